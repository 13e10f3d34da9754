"""``pilotmatch report``: the loop's funnel and each platform's activity, read from the database (no model is
loaded). The CLI has the database, so it reads the admin-only activity report too. ``--json`` prints what the
API answers for the same filters, ``--csv`` its CSV."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from matcher import ReportFilters

report_app = typer.Typer(
    help="Reports for policy staff: the loop's funnel and each platform's activity.", no_args_is_help=True
)
err = Console(stderr=True)

#: C0 and C1 control characters: a platform's name must not drive the terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

Area = Annotated[str | None, typer.Option(help="Only pairs whose platform is in this key-area code.")]
Direction = Annotated[
    str | None,
    typer.Option(help="Only pairs in this industry direction: the technology's or the platform's."),
]
Province = Annotated[
    str | None, typer.Option(help="Only pairs whose platform is in this province (code or name).")
]
Tier = Annotated[str | None, typer.Option(help="Only pairs whose platform is of this tier code.")]
Since = Annotated[
    str | None, typer.Option(help="Pairs that entered the funnel from this ISO date or date-time (UTC).")
]
Until = Annotated[
    str | None,
    typer.Option(help="...and before this ISO date-time, or up to the end of this ISO date."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print what the API answers for the same filters.")]
AsCsv = Annotated[bool, typer.Option("--csv", help="Print the CSV the API gives with format=csv.")]


def _filters(**values: str | None) -> ReportFilters:
    """The filters the API would take; every invalid option is printed at once, then exit 2."""
    from pydantic import ValidationError

    from matcher import ReportFilters
    from matcher.fields import field_errors

    try:
        return ReportFilters.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        for e in field_errors(exc.errors()):
            err.print(f"[red]Error:[/red] --{e.field}: {escape(_CONTROL.sub('?', e.message))}")
        raise typer.Exit(code=2) from exc


def _database() -> Engine:
    from matcher import PilotMatchError, Settings
    from matcher.db import create_db_engine, migrate

    db = create_db_engine(Settings().database_url)
    try:
        migrate(db)
    except PilotMatchError as exc:
        err.print(f"[red]Error:[/red] {escape(exc.detail)}")
        raise typer.Exit(code=2) from exc
    return db


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


@report_app.command("funnel")
def funnel(
    area: Area = None,
    direction: Direction = None,
    province: Province = None,
    tier: Tier = None,
    since: Since = None,
    until: Until = None,
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """How many technology-platform pairs reached each stage of the loop (GET /v1/reports/funnel).

    Stages: matched, notified, responded, interested, introduced, agreed, piloting, completed, succeeded, each
    with its share of the one before and of matched (definitions in docs/reports.md)."""
    from matcher import default_taxonomy, funnel_csv, funnel_report
    from matcher.reports.schemas import STAGE_NAMES

    filters = _filters(area=area, direction=direction, province=province, tier=tier, since=since, until=until)
    db, taxonomy = _database(), default_taxonomy()
    try:
        if as_csv:
            typer.echo(funnel_csv(db, taxonomy, filters), nl=False)
            return
        report = funnel_report(db, taxonomy, filters)
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    out = Console()
    matched = report.count("matched") or 1
    table = Table(title="The loop's funnel: technology-platform pairs")
    table.add_column("Stage")
    table.add_column("Pairs", justify="right")
    table.add_column("Of previous", justify="right")
    table.add_column("Of matched", justify="right")
    table.add_column("", min_width=20)
    previous = None
    for s in report.stages:
        step = report.conversion.get(f"{previous}_to_{s.stage}") if previous else None
        of_matched = report.conversion.get(f"matched_to_{s.stage}") if previous else 1.0
        bar = "█" * round(20 * s.count / matched)
        table.add_row(STAGE_NAMES[s.stage][1], str(s.count), _share(step), _share(of_matched), bar)
        previous = s.stage
    out.print(table)
    hours = report.median_response_hours
    out.print(
        f"Median response time: {'–' if hours is None else f'{hours:g} h'} (notification to first answer)"
    )
    areas = Table(title="By key area of the platforms")
    areas.add_column("Area")
    for stage in STAGE_NAMES:
        areas.add_column(stage, justify="right")
    for a in report.by_area:
        areas.add_row(a.name_en, *(str(s.count) for s in a.stages))
    out.print(areas)


@report_app.command("activity")
def activity(
    area: Area = None,
    direction: Direction = None,
    province: Province = None,
    tier: Tier = None,
    since: Since = None,
    until: Until = None,
    dormant: Annotated[
        bool,
        typer.Option("--dormant", help="Only platforms notified at least 3 times that answered none."),
    ] = False,
    sort: Annotated[
        str,
        typer.Option(help="A column (notified, response_rate, last_active_at, ...); -column: descending."),
    ] = "-notified",
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """Each platform's notifications, answers, response rate and time, and engagements.

    What GET /v1/reports/platform-activity answers (the API needs the admin key; here the database is enough).
    --dormant lists the platforms to activate."""
    from matcher import activity_csv, default_taxonomy, platform_activity
    from matcher.reports.schemas import ACTIVITY_SORT_FIELDS, ACTIVITY_SORTS

    filters = _filters(area=area, direction=direction, province=province, tier=tier, since=since, until=until)
    if sort not in ACTIVITY_SORTS:
        err.print(
            f"[red]Error:[/red] --sort: one of {', '.join(ACTIVITY_SORT_FIELDS)}, with - for descending"
        )
        raise typer.Exit(code=2)
    db = _database()
    try:
        report = platform_activity(db, default_taxonomy(), filters, dormant=dormant, sort=sort)
    finally:
        db.dispose()
    if as_csv:
        typer.echo(activity_csv(report), nl=False)
        return
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    table = Table(title="Dormant platforms" if dormant else "Platform activity", show_lines=True)
    table.add_column("ID", justify="right", no_wrap=True)
    table.add_column("Platform", overflow="fold", ratio=1)
    for name in ("Notified", "Answered", "Rate", "Median h", "Introduced", "Completed", "Succeeded"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Last active", no_wrap=True)
    for p in report.platforms:
        where = " · ".join(x for x in (p.tier, p.province) if x)
        table.add_row(
            str(p.platform_id),
            f"{escape(_CONTROL.sub('?', p.name))}\n[dim]{escape(where)}[/dim]",
            str(p.notified),
            str(p.responded),
            _share(p.response_rate),
            "–" if p.median_response_hours is None else f"{p.median_response_hours:g}",
            str(p.introduced),
            str(p.completed),
            str(p.succeeded),
            p.last_active_at.strftime("%Y-%m-%d") if p.last_active_at else "never",
        )
    Console().print(table)
    if not report.platforms:
        Console().print("No platform matches these filters.")
