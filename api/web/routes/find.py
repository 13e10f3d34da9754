"""Researchers: describe a technology, see ranked and explained platforms, submit it (its private link is in
``private_link``).

Results go down to a floor: weak fits after the first few only with ``?include_weak=1`` (the API's
``include_weak``), and the service's verdict on the need (``unmet_demand``) is said above them, with the coverage
cell it counts under. Once there are results the form folds to one line, so they start on the first screen.

Every page here that runs a match (a search with a text, a submission, a private link) takes a token of the
client's rate limit and a slot in the match gate (``api.admission``); beyond them the error page says 429 or 503.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from api.admission import PageMatchAdmissionDep, SubmissionLimitDep
from api.schemas import MatchResponse
from api.web import forms
from api.web.context import CheckedForm, WebContext, WebDep
from api.web.routes.coverage import CoverageCell
from matcher import (
    InvalidInput,
    MatchQuery,
    MatchResult,
    SubmissionCreate,
    TechnologyCreate,
    submit_technology,
)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 10
MAX_RESULTS = 50


def _query(ctx: WebContext, values) -> tuple[dict, forms.Errors]:  # type: ignore[no-untyped-def]
    """The search form's values as typed (to show them again) plus errors on them."""
    errors: forms.Errors = {}
    q = {
        "text": forms.plain(values, "text", errors),
        "directions": forms.many(values, "directions"),
        "trl": forms.whole_number(values, "trl", errors, ctx.t("error.trl")),
        "province": forms.text(values, "province"),
        "service_types": forms.many(values, "service_types"),
        "area": forms.text(values, "area"),
        "tier": forms.many(values, "tier"),
    }
    q["include_weak"] = forms.text(values, "include_weak") in ("1", "true", "on")
    # ``stale=false`` hides stale profiles (the API's filter); anything else shows them.
    q["stale"] = "false" if forms.text(values, "stale") == "false" else ""
    limit = forms.whole_number(values, "limit", {}, "")
    q["limit"] = min(max(limit, 1), MAX_RESULTS) if isinstance(limit, int) else PAGE_SIZE
    if isinstance(q["trl"], int) and not 1 <= q["trl"] <= 9:
        errors["trl"] = ctx.t("error.trl")
    return q, errors


def _search(ctx: WebContext, q: dict, errors: forms.Errors) -> tuple[MatchQuery, MatchResult] | None:
    """The matches for the form, or None with every error beside its field (a bad TRL and unknown codes are
    shown together, not one round each)."""
    if not q["text"]:
        return None
    if len(q["text"]) > 20000:
        errors["text"] = ctx.t("error.text_too_long")
    try:
        query = MatchQuery.of(
            ctx.rt.taxonomy,
            q["text"],
            directions=q["directions"],
            trl=q["trl"] if isinstance(q["trl"], int) else None,
            province=q["province"] or None,
            service_types=q["service_types"],
            area=q["area"] or None,
            tiers=q["tier"],
            limit=q["limit"],
            include_weak=q["include_weak"],
            stale=False if q["stale"] else None,
        )
    except InvalidInput as exc:
        forms.add_domain_error(errors, exc, {"tiers": "tier"}, t=ctx.t)
        return None
    if errors:
        return None
    return query, ctx.rt.engine.match(query)


def _find_page(  # type: ignore[no-untyped-def]
    ctx: WebContext,
    q: dict,
    errors: forms.Errors,
    status: int = 200,
    submit_errors: forms.Errors | None = None,
    **extra,
) -> Response:
    """The search form with its results; ``submit_errors`` belong to the "submit this technology" form, which
    is shown with the results, so they do not stop the search."""
    found = _search(ctx, q, errors)
    errors = errors | (submit_errors or {})
    if errors and status == 200:
        status = 422
    results = more_url = weak_url = cell = None
    if found:
        query, result = found
        results = MatchResponse.of(result)
        if len(results.matches) >= q["limit"] and q["limit"] < MAX_RESULTS:
            more_url = ctx.url_with(limit=str(q["limit"] + PAGE_SIZE))
        if result.weak_left_out:
            weak_url = ctx.url_with(include_weak="1")
        if result.unmet_demand:
            directions = query.need.directions or [d.code for d in result.inferred_directions]
            cell = CoverageCell.of(directions, query.need.provinces)
    template = (
        "find/_results.html"
        if ctx.is_htmx and ctx.request.headers.get("HX-Target") == "results"
        else "find/page.html"
    )
    return ctx.render(
        template,
        status,
        q=q,
        errors=errors,
        results=results,
        more_url=more_url,
        weak_url=weak_url,
        cell=cell,
        verdict_note="verdict.would_count",
        **extra,
    )


@router.get("/")
def find(ctx: WebDep, _: PageMatchAdmissionDep) -> Response:
    q, errors = _query(ctx, ctx.request.query_params)
    return _find_page(ctx, q, errors)


@router.post("/technologies")
def submit(ctx: WebDep, form: CheckedForm, _limit: SubmissionLimitDep, _: PageMatchAdmissionDep) -> Response:
    """Store the technology from the results page and send the researcher to its private link."""
    q, errors = _query(ctx, form)
    title = forms.optional(form, "title")
    contact = forms.optional(form, "contact")
    submit_errors: forms.Errors = {}
    if not q["text"]:
        errors["text"] = ctx.t("error.text_required")
    if not contact:
        submit_errors["contact"] = ctx.t("error.contact_required")
    item = None
    if not errors and not submit_errors:
        try:
            # The API's submission rules (a contact that reaches someone), then stored as the API stores it.
            item = SubmissionCreate(
                title=title,
                summary=q["text"],
                directions=q["directions"],
                trl=q["trl"],
                service_types=q["service_types"],
                preferred_provinces=[q["province"]] if q["province"] else [],
                contact=contact,
            )
        except ValidationError as exc:
            forms.add_validation_errors(
                submit_errors,
                exc,
                {"summary": "text", "preferred_provinces": "province"},
                messages={("contact", "value_error"): ctx.t("error.contact_reachable")},
                t=ctx.t,
            )
    if item is not None:
        try:
            _, token = submit_technology(
                ctx.rt.db, ctx.rt.engine, ctx.rt.settings, TechnologyCreate(**item.model_dump())
            )
            return ctx.redirect(f"/t/{token}?new=1")
        except InvalidInput as exc:
            forms.add_domain_error(
                submit_errors, exc, {"summary": "text", "preferred_provinces": "province"}, t=ctx.t
            )
    submission = {"title": title or "", "contact": contact or ""}
    return _find_page(ctx, q, errors, 422, submit_errors, submission=submission)
