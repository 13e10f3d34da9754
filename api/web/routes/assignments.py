"""Administrators (full or of a province): run a programme's assignment over open technologies chosen by filters,
read the result against greedy, download it as CSV and push it to the platforms.

The page calls what ``/v1/assignments`` calls; a province administrator's technologies and platforms are its
province's, whatever the form says. Anyone else signs in first, and a platform operator gets 404.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from api.admission import ManyMatchesSlotDep
from api.params import RowId
from api.web import forms
from api.web.context import CheckedForm, WebContext, WebDep
from matcher import NotFound, Principal
from matcher.programmes.export import assignment_csv, assignment_rows
from matcher.programmes.notices import notify_run
from matcher.programmes.schemas import MAX_PER_TECHNOLOGY, MAX_TECHNOLOGIES, AssignmentRequest
from matcher.programmes.selection import open_technologies
from matcher.programmes.service import get_run, list_runs, run_assignment, run_out

router = APIRouter(include_in_schema=False)

#: The form's fields that pick technologies.
FILTERS = ("direction", "area", "tech_province")
#: The form's rules whose invalid values get the page's message rather than the schema's.
RULES = ("per_technology", "min_score", "max_per_platform")


def _administrator(ctx: WebContext) -> Principal | Response:
    principal = ctx.principal
    if principal is None:
        return ctx.redirect("/operator/sign-in?" + urlencode({"next": ctx.request.url.path}))
    if not principal.is_administrator:
        raise NotFound("This page does not exist.")
    return principal


def _defaults(ctx: WebContext, principal: Principal) -> dict:
    own = principal.province if principal.is_province_admin else ""
    return {
        "label": "",
        "direction": "",
        "area": "",
        "tech_province": own,
        "province": own,
        "per_technology": "3",
        "min_score": f"{ctx.rt.settings.possible_fit_score:g}",
        "max_per_platform": "",
        "respect_capacity": True,
    }


def _page(
    ctx: WebContext, principal: Principal, values: dict, errors: forms.Errors, status: int = 200
) -> Response:
    return ctx.render(
        "assignments/page.html",
        status,
        values=values,
        errors=errors,
        runs=list_runs(ctx.rt.db, principal)[0],
        max_k=MAX_PER_TECHNOLOGY,
    )


@router.get("/assignments")
def assignments_page(ctx: WebDep) -> Response:
    principal = _administrator(ctx)
    if isinstance(principal, Response):
        return principal
    return _page(ctx, principal, _defaults(ctx, principal), {})


@router.post("/assignments")
def run(ctx: WebDep, form: CheckedForm, _: ManyMatchesSlotDep) -> Response:
    """Pick the open technologies the filters name, run the assignment, and show it; on an error show the form
    again with the message beside its field, having stored nothing."""
    principal = _administrator(ctx)
    if isinstance(principal, Response):
        return principal
    values = {
        name: forms.text(form, name)
        for name in ("label", *FILTERS, "province", "per_technology", "min_score")
    }
    values |= {
        "max_per_platform": forms.text(form, "max_per_platform"),
        "respect_capacity": "respect_capacity" in form,
    }
    if principal.is_province_admin:
        values["tech_province"] = values["province"] = principal.province
    errors: forms.Errors = {}
    tax = ctx.rt.taxonomy
    if values["direction"] and values["direction"] not in tax.directions:
        errors["direction"] = ctx.t("error.unknown_code", value=values["direction"])
    if values["area"] and values["area"] not in tax.area_codes:
        errors["area"] = ctx.t("error.unknown_code", value=values["area"])
    if values["tech_province"] and values["tech_province"] not in tax.province_codes:
        errors["tech_province"] = ctx.t("error.unknown_code", value=values["tech_province"])
    technologies = (
        []
        if errors
        else open_technologies(
            ctx.rt.db,
            tax,
            direction=values["direction"] or None,
            area=values["area"] or None,
            province=values["tech_province"] or None,
            limit=MAX_TECHNOLOGIES + 1,
        )
    )
    if not errors and not technologies:
        errors["technologies"] = ctx.t("assign.none_open")
    elif len(technologies) > MAX_TECHNOLOGIES:
        errors["technologies"] = ctx.t("assign.too_many", most=MAX_TECHNOLOGIES)
    body = {
        "technology_ids": [t.id for t in technologies],
        "per_technology": values["per_technology"],
        "respect_capacity": values["respect_capacity"],
        "min_score": values["min_score"] or None,
        "province": values["province"] or None,
        "max_per_platform": values["max_per_platform"] or None,
        "label": values["label"] or None,
    }
    request = None
    try:
        request = AssignmentRequest.model_validate(body)
    except ValidationError as exc:
        rules: forms.Errors = {}
        forms.add_validation_errors(rules, exc, t=ctx.t)
        # The page's own words for the rules' ranges; no technology picked is already said above the form.
        errors |= {
            name: ctx.t(f"assign.invalid.{name}") if name in RULES else message
            for name, message in rules.items()
        }
        if not technologies:
            errors.pop("technology_ids", None)
    if errors or request is None:
        return _page(ctx, principal, values, errors, 422)
    done = run_assignment(ctx.rt.db, ctx.rt.engine, request, principal)
    return ctx.redirect(f"/assignments/{done.id}")


@router.get("/assignments/{run_id}")
def result(run_id: RowId, ctx: WebDep) -> Response:
    """The run's table, objective against greedy; ``?format=csv`` is the API's CSV for the signed-in
    administrator, whose browser holds a session rather than the key."""
    principal = _administrator(ctx)
    if isinstance(principal, Response):
        return principal
    done = get_run(ctx.rt.db, run_id, principal)
    rows = assignment_rows(ctx.rt.db, done, principal)
    if forms.text(ctx.request.query_params, "format") == "csv":
        return ctx.finish(
            Response(
                assignment_csv(rows),
                media_type="text/csv; charset=utf-8",
                headers={
                    "Content-Disposition": f'attachment; filename="pilotmatch-assignment-{done.id}.csv"'
                },
            )
        )
    notified = forms.text(ctx.request.query_params, "notified")
    return ctx.render(
        "assignments/run.html",
        run=run_out(done),
        rows=rows,
        notified=int(notified) if notified.isdigit() else None,
    )


@router.post("/assignments/{run_id}/notify")
def notify(run_id: RowId, ctx: WebDep, form: CheckedForm) -> Response:
    principal = _administrator(ctx)
    if isinstance(principal, Response):
        return principal
    created, _ = notify_run(ctx.rt.db, ctx.rt.settings, run_id, principal)
    return ctx.redirect(f"/assignments/{run_id}?notified={created}")
