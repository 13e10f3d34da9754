"""The administrators' review queue: applications to join and operators' edits held for review, with approve (a
tier to grant) and reject (a reason) on each.

The page lists what ``GET /v1/platform-applications`` lists to the same key (the full admin every province's, a
province key its own) and decides through the same service functions, so it refuses what the API refuses: another
province's application is 404, a tier only the full admin grants is refused beside the form (403), and an
application decided meanwhile is refused (409), each shown on the page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from api.admission import PageMatchAdmissionDep
from api.params import RowId
from api.web import forms
from api.web.context import CheckedForm, WebContext, WebDep
from matcher import Conflict, Forbidden, InvalidInput, NotFound, Principal
from matcher.applications.review import approve_application, reject_application
from matcher.applications.schemas import STATUSES, ApplicationOut, RejectBody
from matcher.applications.service import list_applications
from matcher.platforms.permissions import PROVINCE_TIERS

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
#: Profile fields named by a taxonomy list: shown by name, not code.
_CODED = {"tier": "tiers", "area": "areas", "province": "provinces", "service_types": "service_types"}
_LABELS = {"service_types": "field.offered_service_types"}
_LABELLED = {
    *("name", "name_en", "organization", "city", "tier", "area", "province", "directions", "service_types"),
    *("capabilities", "equipment", "scale", "trl_min", "trl_max", "capacity", "contact", "website", "active"),
}


def _administrator(ctx: WebContext) -> Principal | Response:
    """The signed-in administrator; anyone else is sent to sign in, or (a platform's operator) told 404."""
    principal = ctx.principal
    if principal is None:
        return ctx.redirect(f"/operator/sign-in?next={quote(ctx.request.url.path)}")
    if not principal.is_administrator:
        raise NotFound("This page does not exist.")
    return principal


def show_value(ctx: WebContext, name: str, value: Any) -> str:
    """A profile value as a reviewer reads it: codes by their names, lists joined, nothing as a dash."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    tax = ctx.rt.taxonomy
    if name == "directions":
        return "、".join(ctx.t.name(tax.directions[d]) if d in tax.directions else d for d in value)
    if name in _CODED:
        named = {item.code: ctx.t.name(item) for item in getattr(tax, _CODED[name])}
        codes = value if isinstance(value, list) else [value]
        return "、".join(named.get(code, code) for code in codes)
    return "; ".join(map(str, value)) if isinstance(value, list) else str(value)


def _label(ctx: WebContext, name: str) -> str:
    return ctx.t(_LABELS.get(name, f"field.{name}")) if name in _LABELLED else name


def _rows(ctx: WebContext, a: ApplicationOut) -> list[tuple[str, str, str | None]]:
    """(field, value applied for, published value) for each field an application sets; the published value only
    for an edit under review."""
    current = a.current or {}
    # A new platform's empty fields, name (the heading) and capabilities (shown whole below) are left out.
    shown = [
        k
        for k in a.profile
        if a.revision_of is not None
        or (k not in ("name", "capabilities") and a.profile[k] and a.profile[k] is not True)
    ]
    return [
        (
            _label(ctx, k),
            show_value(ctx, k, a.profile[k]),
            show_value(ctx, k, current.get(k)) if a.revision_of is not None else None,
        )
        for k in shown
    ]


def queue_page(
    ctx: WebContext, principal: Principal, status_code: int = 200, refused: tuple[int, str] | None = None
) -> Response:
    status = ctx.request.query_params.get("status") or "pending"
    status = status if status in STATUSES else "pending"
    cursor = forms.optional(ctx.request.query_params, "cursor")
    try:
        items, next_cursor = list_applications(
            ctx.rt.db, principal, status=status, cursor=cursor, limit=PAGE_SIZE
        )
    except InvalidInput:  # a page link from before: start again at the front of the queue
        items, next_cursor = list_applications(ctx.rt.db, principal, status=status, limit=PAGE_SIZE)
    tiers = [tier for tier in ctx.rt.taxonomy.tiers if principal.is_admin or tier.code in PROVINCE_TIERS]
    decision, _, decided_id = (ctx.request.query_params.get("done") or "").partition("-")
    done = (decision, decided_id) if decision in ("approved", "rejected") and decided_id.isdigit() else None
    return ctx.render(
        "applications/queue.html",
        status_code,
        items=[(a, _rows(ctx, a)) for a in items],
        status=status,
        statuses=STATUSES,
        tiers=tiers,
        show_value=lambda name, value: show_value(ctx, name, value),
        next_url=f"/applications?status={status}&cursor={quote(next_cursor)}" if next_cursor else None,
        done=done,
        refused=refused,
    )


@router.get("/applications")
def review_queue(ctx: WebDep) -> Response:
    principal = _administrator(ctx)
    if isinstance(principal, Response):
        return principal
    return queue_page(ctx, principal)


@router.post("/applications/{application_id}/approve")
def approve(application_id: RowId, ctx: WebDep, form: CheckedForm, _: PageMatchAdmissionDep) -> Response:
    """Approve with the tier chosen (an edit under review has none to choose); a refusal is shown on the queue."""
    principal = _administrator(ctx)
    if isinstance(principal, Response):
        return principal
    tier = forms.optional(form, "tier")
    try:
        approve_application(ctx.rt.db, ctx.rt.engine, ctx.rt.settings, application_id, principal, tier)
    except (Forbidden, Conflict, InvalidInput) as exc:
        code = 403 if isinstance(exc, Forbidden) else 409 if isinstance(exc, Conflict) else 422
        return queue_page(ctx, principal, code, (application_id, exc.detail))
    return ctx.redirect(f"/applications?done=approved-{application_id}")


@router.post("/applications/{application_id}/reject")
def reject(application_id: RowId, ctx: WebDep, form: CheckedForm) -> Response:
    principal = _administrator(ctx)
    if isinstance(principal, Response):
        return principal
    try:
        body = RejectBody(reason=forms.text(form, "reason"))
    except ValidationError:
        return queue_page(ctx, principal, 422, (application_id, ctx.t("review.reason_required")))
    try:
        reject_application(ctx.rt.db, application_id, principal, body.reason)
    except Conflict as exc:
        return queue_page(ctx, principal, 409, (application_id, exc.detail))
    return ctx.redirect(f"/applications?done=rejected-{application_id}")
