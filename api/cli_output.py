"""What the CLI prints: text made safe for a terminal, and a match as a table with the service's verdict under
it (what the web page says above its results)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from api.schemas import MatchResponse
    from matcher import Settings

#: C0 and C1 control characters other than newline and tab.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes: text from a file or a request (an unknown field's name
    in an import line) must not drive the terminal (clear it, retitle it)."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def print_matches(
    out: Console, text: str, response: MatchResponse, weak_left_out: bool, settings: Settings
) -> None:
    """One row per platform; its name is never cut: it wraps, with tier, province and the leading factors of
    its score ("why") on the lines below it. Below the table, the service's verdict when nothing fits well and
    a note when weak fits were left out, as the web page says them."""
    shown = text if len(text) <= 60 else text[:59] + "…"
    table = Table(title=f"Platforms for: {escape(printable(shown))}", show_lines=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Score", justify="right", no_wrap=True)
    table.add_column("Fit", no_wrap=True)
    table.add_column("Platform", overflow="fold", ratio=1)
    for i, m in enumerate(response.matches, 1):
        # Calibration is how the factors' sum reads on the fit scale (the Fit column), not a factor of its own.
        top = sorted(
            ((k, v) for k, v in m.explanation.items() if abs(v) >= 0.005 and k != "calibration"),
            key=lambda kv: -abs(kv[1]),
        )
        why = ", ".join(f"{k} {v:+.2f}" for k, v in top[:4])
        where = " · ".join(x for x in (m.tier, m.province) if x)
        cell = f"[bold]{escape(m.name)}[/bold]\n[dim]{escape(where)}\nwhy: {escape(why)}[/dim]"
        table.add_row(str(i), f"{m.score:.3f}", _FIT_STYLE[m.fit].format(m.fit), cell)
    out.print(table)
    if response.inferred_directions:
        names = ", ".join(f"{d.name_zh} ({d.code}) {d.confidence:.0%}" for d in response.inferred_directions)
        out.print(f"Inferred directions (pass --direction to override): {escape(names)}")
    if response.unmet_demand:
        out.print(
            f"[bold]No platform fits this well:[/bold] unmet demand, as the coverage report counts stored needs (its "
            f"best platform scores below {settings.unmet_demand_score:.2f}, PILOTMATCH_UNMET_DEMAND_SCORE)."
        )
    if weak_left_out:
        out.print(
            f"Weak fits after the first {settings.weak_results_shown} were left out (--include-weak shows them)."
        )


_FIT_STYLE = {"good": "[green]{}[/green]", "possible": "[yellow]{}[/yellow]", "weak": "[dim]{}[/dim]"}
