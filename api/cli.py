"""The ``pilotmatch`` command line: serve, load data, rebuild indexes, and match from a terminal."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from api.cli_keys import admin_key
from api.cli_output import print_matches, printable
from api.cli_reports import report_app
from matcher import PilotMatchError, Settings
from matcher.logs import configure_logging

if TYPE_CHECKING:
    from api.schemas import MatchRequest

app = typer.Typer(
    help="PilotMatch: match research-lab technologies to pilot-test platforms (中试平台).",
    no_args_is_help=True,
    add_completion=False,
)
import_app = typer.Typer(help="Import data from files.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(report_app, name="report")
app.command("admin-key")(admin_key)
console = Console()
err = Console(stderr=True)


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress callback that shows a bar only once there is work (a total above zero arrives), so a command
    with nothing to index prints no empty bar."""
    bar: Progress | None = None
    task = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if total <= 0:
            return
        if bar is None:
            bar = Progress(
                TextColumn(f"[bold]{escape(label)}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err,
            )
            bar.start()
            task = bar.add_task(label, total=total)
        bar.update(task, completed=done, total=total)  # type: ignore[arg-type]

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


def _open_runtime(label: str = "Indexing"):  # type: ignore[no-untyped-def]
    from matcher import Runtime

    settings = Settings()
    configure_logging(settings.log_format, "WARNING")
    with _progress(label) as update:
        return Runtime.open(settings, progress=update)


def _fail(exc: PilotMatchError) -> typer.Exit:
    err.print(f"[red]Error:[/red] {escape(printable(exc.detail))}")
    return typer.Exit(code=2)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes on this port; each holds its own indexes and follows the change log.",
        ),
    ] = 1,
) -> None:
    """Serve the web app at / and the JSON API under /v1 (docs at /docs). Prints a new admin key once if none is
    configured."""
    import uvicorn

    from api.app import create_app, load_settings
    from matcher import ensure_admin_key
    from matcher.db import create_db_engine, migrate

    settings = load_settings()  # an invalid setting (a short admin key) stops here with one line
    configure_logging(settings.log_format, settings.log_level)
    db = create_db_engine(settings.database_url)
    try:
        migrate(db)
    except PilotMatchError as exc:
        raise _fail(exc) from exc
    new_key = ensure_admin_key(db, settings)
    db.dispose()
    if new_key:
        console.print(
            "\n[bold]Admin key[/bold] (shown once; it is stored only as a hash — keep it, or run "
            f"`pilotmatch admin-key --rotate`):\n  {new_key}\n"
        )
    # Forwarded headers only from the proxies named in the settings (uvicorn would otherwise believe loopback).
    proxies = {
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
    }
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", **proxies)
        return
    # Several processes: uvicorn starts each from the factory; their metrics are gathered through a shared
    # folder (Prometheus multiprocess mode), set before any worker imports prometheus_client.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="pilotmatch-metrics-"))
    # Numeric libraries spin-wait: N processes share the cores rather than each taking all of them.
    os.environ.setdefault("PILOTMATCH_EMBEDDING_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        **proxies,
    )


@app.command("seed-demo")
def seed_demo(
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Delete every platform and technology (with their notifications, webhooks and platform keys) "
            "and load the demo again.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before --reset deletes data.")] = False,
) -> None:
    """Load the bundled demo platforms and technologies into an empty database. A database that already has
    platforms is left as it is (your edits and deletions stand); --reset --yes goes back to the demo."""
    from matcher import reset_to_demo
    from matcher.importing import seed_demo as run

    if (
        reset
        and not yes
        and not typer.confirm("Delete every platform and technology and load the demo again?", default=False)
    ):
        err.print("Nothing was changed.")
        raise typer.Exit(code=1)
    rt = _open_runtime()
    try:
        with _progress("Demo platforms") as update:
            report = (
                reset_to_demo(rt.db, rt.engine, rt.settings, progress=update)
                if reset
                else run(rt.db, rt.engine, rt.settings, progress=update)
            )
    except PilotMatchError as exc:
        raise _fail(exc) from exc
    finally:
        rt.close()
    if report.skipped:
        console.print(
            "The database already has platforms: the demo was not loaded and nothing was changed. "
            "To go back to the demo, run `pilotmatch seed-demo --reset --yes`."
        )
        return
    console.print(f"Demo data loaded: {report.platforms} platforms, {report.technologies} technologies.")


@import_app.command("platforms")
def import_platforms(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL, one platform per line.")],
) -> None:
    """Import platform profiles from a JSONL file (upserts by external_id, so re-running is safe).

    Every line is checked first: if any is invalid, each error of each bad line is listed with its line number
    and nothing is stored."""
    from matcher.importing import import_platforms, read_platforms_file

    try:
        items = read_platforms_file(file)  # before the model loads: a bad file fails at once
    except PilotMatchError as exc:
        raise _fail(exc) from exc
    rt = _open_runtime()
    try:
        with _progress("Importing") as update:
            n = import_platforms(rt.db, rt.engine, rt.settings, items, progress=update)
    except PilotMatchError as exc:
        raise _fail(exc) from exc
    finally:
        rt.close()
    console.print(f"Imported {n} platforms from {file}.")


@app.command()
def reindex() -> None:
    """Rebuild every index from the database (after a model change, or to be sure)."""
    from matcher import Runtime

    settings = Settings()
    configure_logging(settings.log_format, "WARNING")
    with _progress("Embedding") as update:
        rt = Runtime.open(settings, progress=update, rebuild=True)
    m = rt.engine.manifest("platforms")
    rt.close()
    if m:
        console.print(f"Rebuilt: {m.count} platforms ({m.passages} passages) with {m.model}, dim {m.dim}.")


#: The option (or argument) of ``pilotmatch match`` that sets each field of a match request.
_MATCH_OPTIONS = {
    "text": "TEXT",
    "directions": "--direction",
    "service_types": "--service-type",
    "tier": "--tier",
    "trl": "--trl",
    "province": "--province",
    "area": "--area",
    "limit": "--limit",
}


def _match_request(**fields: object) -> MatchRequest:
    """The request ``POST /v1/match`` would take; every invalid option is printed at once, then exit 2."""
    from pydantic import ValidationError

    from api.schemas import MatchRequest
    from matcher.fields import field_errors

    try:
        return MatchRequest.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        for e in field_errors(exc.errors()):
            option = _MATCH_OPTIONS.get(e.field.split("[")[0], e.field)
            err.print(f"[red]Error:[/red] {escape(printable(option))}: {escape(printable(e.message))}")
        raise typer.Exit(code=2) from exc


@app.command()
def match(
    text: Annotated[str, typer.Argument(help="Technology description, Chinese or English.")],
    limit: Annotated[int, typer.Option(help="How many platforms, 1-100.")] = 10,
    trl: Annotated[
        int | None, typer.Option(help="Technology readiness level today, 1-9 (a preference).")
    ] = None,
    province: Annotated[
        str | None, typer.Option(help="Preferred province: a code, or its Chinese or English name.")
    ] = None,
    area: Annotated[str | None, typer.Option(help="Only platforms of this key-area code (a filter).")] = None,
    direction: Annotated[
        list[str] | None,
        typer.Option(help="An industry direction code (repeatable); replaces the inferred directions."),
    ] = None,
    service_type: Annotated[
        list[str] | None, typer.Option(help="A wanted service-type code (repeatable; a preference).")
    ] = None,
    tier: Annotated[
        list[str] | None, typer.Option(help="Only platforms of this tier code (repeatable).")
    ] = None,
    include_weak: Annotated[
        bool,
        typer.Option(
            "--include-weak",
            help="Also list weak fits after the first few (left out by default, as in the API).",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly what POST /v1/match answers for the same request.")
    ] = False,
) -> None:
    """Rank platforms for TEXT and show how well each fits and why.

    Fit: "good", the first result at that level is relevant at least 85% of the time; "possible", 50%.

    A need whose best platform scores below PILOTMATCH_UNMET_DEMAND_SCORE is unmet demand (coverage report).

    Codes are listed at GET /v1/taxonomy; an unknown one is reported with the valid ones."""
    from api.schemas import MatchResponse

    body = _match_request(
        text=text,
        limit=limit,
        trl=trl,
        province=province,
        area=area,
        directions=direction,
        service_types=service_type,
        tier=tier,
        include_weak=include_weak,
    )
    rt = _open_runtime("Loading")
    try:
        outcome = rt.engine.match(body.query(rt.taxonomy))
        response = MatchResponse.of(outcome)
    except PilotMatchError as exc:
        raise _fail(exc) from exc
    finally:
        rt.close()
    if as_json:
        typer.echo(json.dumps(response.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    print_matches(Console(), text, response, outcome.weak_left_out, rt.settings)


@app.command()
def worker() -> None:
    """Deliver notifications (and record matches for rows written while no worker ran) until stopped.

    Run several for throughput: each claims deliveries with a lease, so none is sent twice at once.
    """
    import signal

    from matcher import DeliveryWorker, Runtime

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    rt = Runtime.open(settings)
    w = DeliveryWorker(rt.db, rt.engine, rt.settings, rt.follower)
    signal.signal(signal.SIGTERM, lambda *_: w.stop())
    signal.signal(signal.SIGINT, lambda *_: w.stop())
    console.print(f"Delivery worker {w.owner} started (Ctrl+C to stop).")
    try:
        w.run()
    finally:
        rt.close()


if __name__ == "__main__":
    app()
