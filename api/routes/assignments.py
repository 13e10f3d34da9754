"""Programmes: assign many technologies to platforms with limited slots, list the runs, read one back (JSON or
CSV), and push its pairs to the platforms."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from api.admission import ManyMatchesSlotDep
from api.deps import AdministratorDep, RuntimeDep
from api.params import RowId
from api.problems import problem_responses
from matcher.programmes.export import assignment_csv, assignment_rows
from matcher.programmes.notices import notify_run
from matcher.programmes.schemas import AssignmentOut, AssignmentPage, AssignmentRequest, NotifyOut
from matcher.programmes.service import get_run, list_runs, run_assignment, run_out, run_summary

router = APIRouter(prefix="/v1/assignments", tags=["programmes"])


@router.post(
    "",
    status_code=201,
    response_model=AssignmentOut,
    summary="Assign technologies to platforms: up to k each, within the platforms' slots, best total score",
    responses=problem_responses(401, 403, 404, 422, 429, 503),
)
def create_assignment(
    body: AssignmentRequest, rt: RuntimeDep, principal: AdministratorDep, _slot: ManyMatchesSlotDep
) -> AssignmentOut:
    return run_out(run_assignment(rt.db, rt.engine, body, principal))


@router.get(
    "",
    response_model=AssignmentPage,
    summary="The runs, newest first (administrators; a province key sees its province's), paged",
    responses=problem_responses(401, 403, 422),
)
def list_assignments(
    rt: RuntimeDep,
    principal: AdministratorDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AssignmentPage:
    rows, next_cursor = list_runs(rt.db, principal, cursor=cursor, limit=limit)
    return AssignmentPage(items=[run_summary(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{run_id}",
    response_model=AssignmentOut,
    summary="One assignment run; `format=csv`: one row per assigned pair with names and contacts",
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with `format=csv`."},
        **problem_responses(401, 403, 404),
    },
)
def read_assignment(
    run_id: RowId,
    rt: RuntimeDep,
    principal: AdministratorDep,
    format: Annotated[
        Literal["json", "csv"], Query(description="`csv`: one row per assigned pair.")
    ] = "json",
) -> Response | AssignmentOut:
    run = get_run(rt.db, run_id, principal)
    if format == "json":
        return run_out(run)
    return Response(
        assignment_csv(assignment_rows(rt.db, run, principal)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="pilotmatch-assignment-{run.id}.csv"'},
    )


@router.post(
    "/{run_id}/notify",
    response_model=NotifyOut,
    summary="Tell each assigned platform of its technologies (inbox, webhooks, e-mail); never twice per pair",
    responses=problem_responses(401, 403, 404),
)
def notify_assignment(run_id: RowId, rt: RuntimeDep, principal: AdministratorDep) -> NotifyOut:
    created, pairs = notify_run(rt.db, rt.settings, run_id, principal)
    return NotifyOut(created=created, pairs=pairs)
