"""``pilotmatch admin-key``: the admin key (created once, or rotated) and the labelled keys of other
administrators, full or of one province, issued as ``POST /v1/admin-keys`` issues them. A key is printed once, on
one line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from api.cli_output import printable
from matcher import Settings
from matcher.logs import configure_logging

if TYPE_CHECKING:
    from sqlalchemy import Engine

console = Console()
err = Console(stderr=True)


def admin_key(
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Revoke stored admin keys and print a new one.")
    ] = False,
    province: Annotated[
        str | None,
        typer.Option(
            "--province",
            help="Issue a province administrator's key for this province (code or name, e.g. jiangsu or 江苏) "
            "instead: it administers that province's platforms and technologies only. Needs --label.",
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Issue another full administrator's key, for one more person or office. Needs --label.",
        ),
    ] = False,
    label: Annotated[
        str | None,
        typer.Option(
            "--label",
            help="Who holds the key issued with --province or --full (listed by GET /v1/admin-keys).",
        ),
    ] = None,
) -> None:
    """Create the admin key if none exists (or rotate it), or issue a labelled province or full key; print it
    once, on one line."""
    from matcher import ensure_admin_key, rotate_admin_key
    from matcher.db import create_db_engine, migrate

    _check_key_options(rotate, province, full, label)
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)  # the key's issue is logged, on stderr
    db = create_db_engine(settings.database_url)
    migrate(db)
    try:
        if province is not None or full:
            _print_key(_issued_key(db, province, label))
            return
        key = rotate_admin_key(db) if rotate else ensure_admin_key(db, settings)
    finally:
        db.dispose()
    if key is None:
        console.print(
            "An admin key already exists (or PILOTMATCH_ADMIN_KEY is set). Use --rotate for a new one, or "
            "--full --label for another administrator's."
        )
        raise typer.Exit(code=1)
    _print_key(f"Admin key (shown once): {key}")


def _check_key_options(rotate: bool, province: str | None, full: bool, label: str | None) -> None:
    """The option combinations ``admin-key`` refuses, each with what to do instead (exit 2)."""
    problem = None
    if province is not None and full:
        problem = "a key is one province's (--province) or full (--full), not both."
    elif rotate and (province is not None or full):
        problem = (
            "--rotate replaces the admin key; another administrator's key is revoked by its id "
            "(DELETE /v1/admin-keys/{id})."
        )
    elif label is not None and province is None and not full:
        problem = "--label names a key issued with --province or --full."
    elif (province is not None or full) and label is None:
        problem = "--label is required with --province and --full: say who holds the key."
    if problem:
        err.print(f"[red]Error:[/red] {escape(problem)}")
        raise typer.Exit(code=2)


def _print_key(line: str) -> None:
    """A line holding a key, never wrapped (a key broken over two lines gets copied broken)."""
    console.print(line, soft_wrap=True, highlight=False, markup=False)


def _issued_key(db: Engine, province: str | None, label: str | None) -> str:
    """Issue a province or full key as ``POST /v1/admin-keys`` does (every invalid option at once, then exit 2);
    the line to print."""
    from pydantic import ValidationError

    from matcher.accounts.admin_keys import issue_admin_key
    from matcher.accounts.principal import Principal
    from matcher.accounts.schemas import AdminKeyCreate
    from matcher.fields import field_errors

    scope = "full" if province is None else "province"
    try:
        body = AdminKeyCreate.model_validate({"scope": scope, "province": province, "label": label})
    except ValidationError as exc:
        for e in field_errors(exc.errors()):
            err.print(f"[red]Error:[/red] --{escape(printable(e.field))}: {escape(printable(e.message))}")
        raise typer.Exit(code=2) from exc
    row, key = issue_admin_key(db, body, Principal("cli"))
    if row.province is None:
        return f"Full administrator key {row.id} (shown once): {key}"
    return f"Province key {row.id} for {row.province} (shown once): {key}"
