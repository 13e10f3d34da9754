"""Platform operators: sign in with the platform's key, edit or confirm the profile, read the inbox.

An operator sees and edits only their own platform: another platform's pages answer 404, exactly as the API does,
so a key cannot be used to learn which platforms exist behind it. Administrators sign in with their keys too: the
full admin runs every platform, a province administrator those of its province (others are 404 to it as well),
and may give them the tiers ``reserve`` and ``provincial`` only.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from api.admission import PageMatchAdmissionDep
from api.params import RowId
from api.web import forms
from api.web.context import CheckedForm, WebContext, WebDep, safe_next
from matcher import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PlatformUpdate,
    authenticate,
    get_platform,
    list_notifications,
    mark_read,
    pair_states,
)
from matcher.accounts.principal import Principal
from matcher.accounts.service import hash_key
from matcher.applications.revisions import HeldEdit, edit_platform, pending_revision
from matcher.platforms.freshness import confirm_platform
from matcher.platforms.models import Platform
from matcher.platforms.permissions import NETWORK_TIERS, PROVINCE_TIERS
from matcher.taxonomy import Coded, Taxonomy

router = APIRouter(include_in_schema=False)

INBOX_PAGE = 20
#: Text inputs of the profile form, in the order shown.


def _home(ctx: WebContext) -> str:
    p = ctx.principal
    if p is None:
        return "/operator/sign-in"
    return "/platforms" if p.is_administrator else f"/platforms/{p.platform_id}"


def own_platform(ctx: WebContext, platform_id: int) -> Platform | Response:
    """The platform if the signed-in operator may run it; otherwise a redirect to sign in, or 404."""
    if ctx.principal is None:
        return ctx.redirect(f"/operator/sign-in?next={quote(ctx.request.url.path)}")
    if not ctx.can_operate(platform_id):
        raise NotFound(f"Platform {platform_id} does not exist.")
    return get_platform(ctx.rt.db, platform_id)


@router.get("/operator")
def operator_home(ctx: WebDep) -> Response:
    return ctx.redirect(_home(ctx))


@router.get("/operator/sign-in")
def sign_in_form(ctx: WebDep) -> Response:
    return ctx.render(
        "operator/sign_in.html", errors={}, next=safe_next(ctx.request.query_params.get("next"), "")
    )


@router.post("/operator/sign-in")
def sign_in(ctx: WebDep, form: CheckedForm) -> Response:
    key = forms.text(form, "key")
    target = safe_next(forms.text(form, "next"), "")
    principal = authenticate(ctx.rt.db, ctx.rt.settings, key) if key else None
    if principal is None:
        errors = {"key": ctx.t("error.key_invalid" if key else "error.key_required")}
        return ctx.render("operator/sign_in.html", 401, errors=errors, next=target)
    ctx.sign_in(hash_key(key), principal)
    return ctx.redirect(target or _home(ctx))


@router.post("/operator/sign-out")
def sign_out(ctx: WebDep, form: CheckedForm) -> Response:
    ctx.sign_out()
    return ctx.redirect("/")


def _profile_values(p: Platform) -> dict:
    values = {
        name: getattr(p, name) or ""
        for name in (*forms.PROFILE_TEXT_FIELDS, *forms.PROFILE_NUMBER_FIELDS, "province", "area", "tier")
    }
    values |= {
        "capabilities": p.capabilities,
        "equipment": "\n".join(p.equipment or ()),
        "directions": list(p.directions or ()),
        "service_types": list(p.service_types or ()),
        "active": p.active,
    }
    return values


def tier_choices(tax: Taxonomy, principal: Principal, tier: str) -> list[Coded]:
    """The tiers the signed-in key may give this platform; none when it may not change its tier (an operator, or
    a province administrator over a platform MIIT gave one of its own tiers)."""
    if principal.is_admin:
        return list(tax.tiers)
    if principal.is_province_admin and tier not in NETWORK_TIERS:
        # Its tiers, and the platform's own (unlisted) so that saving other fields leaves it as it is.
        return [t for t in tax.tiers if t.code in PROVINCE_TIERS or t.code == tier]
    return []


def _form_page(
    ctx: WebContext, own: Platform, values: dict, errors: forms.Errors, **extra: object
) -> Response:
    """The profile form, with the tiers and provinces the signed-in key may choose (a province administrator's:
    its own province only)."""
    principal = ctx.principal
    assert principal is not None  # the route checked can_operate
    tax = ctx.rt.taxonomy
    provinces = [p for p in tax.provinces if not principal.is_province_admin or p.code == principal.province]
    return ctx.render(
        "operator/edit.html",
        p=own,
        values=values,
        errors=errors,
        tiers=tier_choices(tax, principal, own.tier),
        provinces=provinces,
        **extra,
    )


@router.get("/platforms/{platform_id}/edit")
def edit_form(platform_id: RowId, ctx: WebDep) -> Response:
    own = own_platform(ctx, platform_id)
    if isinstance(own, Response):
        return own
    return _edit_page(ctx, own)


def _edit_page(ctx: WebContext, own: Platform, status: int = 200, held: str | None = None) -> Response:
    """The profile form with the published values; with ``held``, the link to follow an edit sent to review."""
    saved = ctx.request.query_params.get("saved") == "1"
    with Session(ctx.rt.db) as s:
        waiting = pending_revision(s, own.id) is not None  # type: ignore[arg-type]
    response = _form_page(
        ctx,
        own,
        _profile_values(own),
        {},
        saved=saved,
        held=held,
        waiting=waiting and held is None,
        status_code=status,
    )
    if held is not None:  # the page holds the review's private link
        response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/platforms/{platform_id}/edit")
def edit(platform_id: RowId, ctx: WebDep, form: CheckedForm, _: PageMatchAdmissionDep) -> Response:
    """Validate like the API (same schema, same service); on error show the typed values with messages beside
    their fields and store nothing."""
    own = own_platform(ctx, platform_id)
    if isinstance(own, Response):
        return own
    errors: forms.Errors = {}
    values = forms.profile_values(form, errors, ctx.t("error.whole_number")) | {
        "active": form.get("active") == "on"
    }
    principal = ctx.principal
    assert principal is not None  # the route checked can_operate
    sets_tier = bool(tier_choices(ctx.rt.taxonomy, principal, own.tier))
    if sets_tier:
        values["tier"] = forms.text(form, "tier")
    if not values["name"]:
        errors["name"] = ctx.t("error.required")
    if not values["capabilities"]:
        errors["capabilities"] = ctx.t("error.required")
    # The other fields are checked even when some are already wrong, so every error shows at once.
    patch = None
    try:
        patch = PlatformUpdate.model_validate({k: v for k, v in values.items() if k not in errors})
    except ValidationError as exc:
        forms.add_validation_errors(errors, exc, t=ctx.t)
    if patch is not None and not errors:
        try:
            done = edit_platform(
                ctx.rt.db, ctx.rt.engine, ctx.rt.settings, platform_id, patch, actor=principal
            )
            # Held for review: the published profile is unchanged; show it, with the review's link.
            if isinstance(done, HeldEdit):
                return _edit_page(ctx, own, 202, held=f"/apply/{done.token}")
            return ctx.redirect(f"/platforms/{platform_id}/edit?saved=1")
        except InvalidInput as exc:
            forms.add_domain_error(errors, exc, t=ctx.t)
        except Forbidden as exc:
            errors["tier"] = exc.detail
        except Conflict as exc:  # an earlier edit still waits for review
            errors["capabilities"] = exc.detail
    forms.localise_profile_numbers(errors, ctx.t)
    shown = values | {"equipment": forms.text(form, "equipment")}
    if not sets_tier:
        shown["tier"] = own.tier
    return _form_page(ctx, own, shown, errors, saved=False, held=None, status_code=422)


@router.post("/platforms/{platform_id}/confirm")
def confirm(platform_id: RowId, ctx: WebDep, form: CheckedForm) -> Response:
    """The profile is still true (``POST /v1/platforms/{id}/confirm``); back to the page the button was on."""
    own = own_platform(ctx, platform_id)
    if isinstance(own, Response):
        return own
    assert ctx.principal is not None  # own_platform checked it
    confirm_platform(ctx.rt.db, ctx.rt.engine, platform_id, ctx.principal)
    return ctx.redirect(safe_next(forms.text(form, "next"), f"/platforms/{platform_id}?confirmed=1"))


@router.get("/platforms/{platform_id}/inbox")
def inbox(platform_id: RowId, ctx: WebDep) -> Response:
    own = own_platform(ctx, platform_id)
    if isinstance(own, Response):
        return own
    return inbox_page(ctx, own)


def inbox_page(
    ctx: WebContext,
    own: Platform,
    status: int = 200,
    action_error: str | None = None,
    action_detail: str | None = None,
) -> Response:
    """The inbox, each technology with the platform's answer and introduction beside it (as the API's inbox
    items carry them); ``action_error`` says why an answer sent from it was refused."""
    pid: int = own.id  # type: ignore[assignment]
    cursor = forms.optional(ctx.request.query_params, "cursor")
    items, next_cursor = list_notifications(ctx.rt.db, pid, cursor=cursor, limit=INBOX_PAGE)
    notes = [note for note, _ in items]
    states = pair_states(ctx.rt.db, pid, [n.technology_id for n in notes if n.technology_id is not None])
    return ctx.render(
        "operator/inbox.html",
        status,
        p=own,
        items=notes,
        states=states,
        next_url=f"/platforms/{pid}/inbox?cursor={quote(next_cursor)}" if next_cursor else None,
        action_error=action_error,
        action_detail=action_detail,
    )


@router.post("/platforms/{platform_id}/inbox/{notification_id}/read")
def read(platform_id: RowId, notification_id: RowId, ctx: WebDep, form: CheckedForm) -> Response:
    own = own_platform(ctx, platform_id)
    if isinstance(own, Response):
        return own
    note = mark_read(ctx.rt.db, platform_id, notification_id)
    if ctx.is_htmx:
        ids = [note.technology_id] if note.technology_id is not None else []
        states = pair_states(ctx.rt.db, platform_id, ids)
        return ctx.render("operator/_inbox_item.html", p=own, note=note, states=states)
    return ctx.redirect(f"/platforms/{platform_id}/inbox")
