"""Platforms apply to join: the public form, and the application's status page at its private link.

The form is checked by the model and the service ``POST /v1/platform-applications`` uses, so the page and the API
accept and refuse the same; every error is shown beside its field and nothing is stored. The status page
``/apply/<token>`` is the twin of ``GET /v1/platform-applications/{token}``: its address is its only key, so
``WebContext.finish`` keeps it out of caches and Referer headers. After approval it shows the platform key once,
but only when the applicant presses the button (a POST): a chat app or mail scanner fetching the link to preview it
must not use up the one showing.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from api.admission import spend_application_token
from api.web import forms
from api.web.context import CheckedForm, WebContext, WebDep
from matcher import InvalidInput, NotFound
from matcher.applications.schemas import ApplicationState, PlatformApplicationCreate
from matcher.applications.service import application_state, apply_to_join
from matcher.platforms.permissions import PROVINCE_TIERS

router = APIRouter(include_in_schema=False)

REQUIRED = ("name", "area", "capabilities", "applicant_contact")


def _form_page(ctx: WebContext, values: dict, errors: forms.Errors, status: int = 200) -> Response:
    tiers = [tier for tier in ctx.rt.taxonomy.tiers if tier.code in PROVINCE_TIERS]
    return ctx.render("applications/apply.html", status, values=values, errors=errors, tiers=tiers)


@router.get("/apply")
def application_form(ctx: WebDep) -> Response:
    return _form_page(ctx, {"tier": "reserve", "directions": [], "service_types": []}, {})


def _typed(ctx: WebContext, form: CheckedForm) -> tuple[dict, forms.Errors]:
    """The form's values as typed (to show again) and the errors found before the model's own checks."""
    errors: forms.Errors = {}
    values = forms.profile_values(form, errors, ctx.t("error.whole_number")) | {
        "tier": forms.text(form, "tier") or "reserve",
        "applicant_contact": forms.optional(form, "applicant_contact"),
    }
    for name in REQUIRED:
        if not values[name]:
            errors[name] = ctx.t("error.required")
    return values, errors


@router.post("/apply")
def send_application(ctx: WebDep, form: CheckedForm) -> Response:
    """Store the application and go to its status page; on errors show the form again, as typed."""
    values, errors = _typed(ctx, form)
    item = None
    try:
        item = PlatformApplicationCreate.model_validate({k: v for k, v in values.items() if k not in errors})
    except ValidationError as exc:
        forms.add_validation_errors(
            errors,
            exc,
            messages={
                ("applicant_contact", "value_error"): ctx.t("error.contact_reachable"),
                ("tier", "value_error"): ctx.t("apply.tier_hint"),
            },
            t=ctx.t,
        )
    if item is not None and not errors:
        spend_application_token(ctx.request)
        try:
            _, token = apply_to_join(ctx.rt.db, ctx.rt.taxonomy, item)
            return ctx.redirect(f"/apply/{token}?new=1")
        except InvalidInput as exc:
            forms.add_domain_error(errors, exc, t=ctx.t)
    forms.localise_profile_numbers(errors, ctx.t)
    return _form_page(ctx, values | {"equipment": forms.text(form, "equipment")}, errors, 422)


def _status_page(ctx: WebContext, token: str, state: ApplicationState, waiting: bool) -> Response:
    settings = ctx.rt.settings
    base = settings.public_url if "public_url" in settings.model_fields_set else str(ctx.request.base_url)
    return ctx.render(
        "applications/status.html",
        a=state,
        waiting=waiting,
        new=ctx.request.query_params.get("new") == "1",
        link=f"/apply/{token}",
        link_base=base.rstrip("/"),
    )


def _unknown(ctx: WebContext) -> Response:
    return ctx.render("error.html", 404, status=404, message=ctx.t("error.application_unknown"))


@router.get("/apply/{token}")
def application_status(token: str, ctx: WebDep) -> Response:
    """The application's state; never the key (see the module docstring)."""
    try:
        state = application_state(ctx.rt.db, token, reveal_key=False)
    except NotFound:
        return _unknown(ctx)
    waiting = state.status == "approved" and state.revision_of is None and state.key_shown_at is None
    return _status_page(ctx, token, state, waiting)


@router.post("/apply/{token}/key")
def show_key(token: str, ctx: WebDep, form: CheckedForm) -> Response:
    """The platform key, on the first press after approval only; later presses show the page without it."""
    try:
        state = application_state(ctx.rt.db, token)
    except NotFound:
        return _unknown(ctx)
    return _status_page(ctx, token, state, waiting=False)
