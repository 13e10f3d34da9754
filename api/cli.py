"""The ``pilotmatch`` command line: serve, load data, rebuild indexes, and match from a terminal."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from matcher.errors import PilotMatchError
from matcher.logs import configure_logging
from matcher.settings import Settings

app = typer.Typer(
    help="PilotMatch: match research-lab technologies to pilot-test platforms (中试平台).",
    no_args_is_help=True,
    add_completion=False,
)
import_app = typer.Typer(help="Import data from files.", no_args_is_help=True)
app.add_typer(import_app, name="import")
console = Console()
err = Console(stderr=True)


@contextmanager
def _progress(label: str):  # type: ignore[no-untyped-def]
    with Progress(
        TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _open_runtime(label: str = "Indexing"):  # type: ignore[no-untyped-def]
    from matcher.runtime import Runtime

    settings = Settings()
    configure_logging(settings.log_format, "WARNING")
    with _progress(label) as update:
        return Runtime.open(settings, progress=update)


def _fail(exc: PilotMatchError) -> typer.Exit:
    err.print(f"[red]Error:[/red] {exc.detail}")
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
    from matcher.accounts.service import ensure_admin_key
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
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
        return
    # Several processes: uvicorn starts each from the factory; their metrics are gathered through a shared
    # folder (Prometheus multiprocess mode), set before any worker imports prometheus_client.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="pilotmatch-metrics-"))
    # Numeric libraries spin-wait: N processes share the cores rather than each taking all of them.
    os.environ.setdefault("PILOTMATCH_EMBEDDING_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    uvicorn.run(
        "api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="warning"
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
    from matcher.importing import reset_to_demo
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
            report = reset_to_demo(rt, progress=update) if reset else run(rt, progress=update)
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
    """Import platform profiles from a JSONL file (upserts by external_id, so re-running is safe)."""
    from matcher.importing import import_platforms_file

    rt = _open_runtime()
    try:
        with _progress("Importing") as update:
            n = import_platforms_file(rt, file, progress=update)
    except PilotMatchError as exc:
        raise _fail(exc) from exc
    finally:
        rt.close()
    console.print(f"Imported {n} platforms from {file}.")


@app.command()
def reindex() -> None:
    """Rebuild every index from the database (after a model change, or to be sure)."""
    from matcher.runtime import Runtime

    settings = Settings()
    configure_logging(settings.log_format, "WARNING")
    with _progress("Embedding") as update:
        rt = Runtime.open(settings, progress=update, rebuild=True)
    m = rt.engine.manifest("platforms")
    rt.close()
    if m:
        console.print(f"Rebuilt: {m.count} platforms ({m.passages} passages) with {m.model}, dim {m.dim}.")


@app.command()
def match(
    text: Annotated[str, typer.Argument(help="Technology description, Chinese or English.")],
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    trl: Annotated[int | None, typer.Option(min=1, max=9)] = None,
    province: Annotated[str | None, typer.Option()] = None,
    area: Annotated[str | None, typer.Option()] = None,
    direction: Annotated[
        list[str] | None,
        typer.Option(help="An industry direction code (repeatable); replaces the inferred directions."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Rank platforms for TEXT and show why each fits."""
    from matcher.matching.service import match_text

    rt = _open_runtime("Loading")
    try:
        outcome = match_text(
            rt.engine, text, directions=direction or [], trl=trl, province=province, area=area, limit=limit
        )
        results = outcome.matches
    except PilotMatchError as exc:
        raise _fail(exc) from exc
    finally:
        rt.close()
    if as_json:
        out = [
            {
                "platform_id": m.platform_id,
                "score": m.score,
                "explanation": m.explanation,
                "evidence": {"passage": m.evidence.passage, "terms": m.evidence.terms},
                **m.card,
            }
            for m in results
        ]
        inferred = [{"code": d.code, "confidence": d.confidence} for d in outcome.inferred_directions]
        typer.echo(
            json.dumps({"matches": out, "inferred_directions": inferred}, ensure_ascii=False, indent=2)
        )
        return
    table = Table(title=f"Platforms for: {text[:60]}")
    table.add_column("#", justify="right")
    table.add_column("Score", justify="right")
    table.add_column("Platform")
    table.add_column("Tier")
    table.add_column("Province")
    table.add_column("Why")
    for i, m in enumerate(results, 1):
        top = sorted(
            ((k, v) for k, v in m.explanation.items() if abs(v) >= 0.005), key=lambda kv: -abs(kv[1])
        )
        why = ", ".join(f"{k} {v:+.2f}" for k, v in top[:4])
        table.add_row(str(i), f"{m.score:.3f}", m.card["name"], m.card["tier"], m.card["province"] or "", why)
    console.print(table)
    if outcome.inferred_directions:
        names = ", ".join(f"{d.name_zh} {d.confidence:.0%}" for d in outcome.inferred_directions)
        console.print(f"Inferred directions (pass --direction to override): {names}")


@app.command()
def worker() -> None:
    """Deliver notifications (and record matches for rows written while no worker ran) until stopped.

    Run several for throughput: each claims deliveries with a lease, so none is sent twice at once.
    """
    import signal

    from matcher.notifications.delivery import DeliveryWorker
    from matcher.runtime import Runtime

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


@app.command("admin-key")
def admin_key(
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Revoke stored admin keys and print a new one.")
    ] = False,
) -> None:
    """Create the admin key if none exists (or rotate it) and print it once."""
    from matcher.accounts.service import ensure_admin_key, rotate_admin_key
    from matcher.db import create_db_engine, migrate

    settings = Settings()
    db = create_db_engine(settings.database_url)
    migrate(db)
    key = rotate_admin_key(db) if rotate else ensure_admin_key(db, settings)
    db.dispose()
    if key is None:
        console.print(
            "An admin key already exists (or PILOTMATCH_ADMIN_KEY is set). Use --rotate for a new one."
        )
        raise typer.Exit(code=1)
    console.print(f"Admin key (shown once): {key}")


if __name__ == "__main__":
    app()
