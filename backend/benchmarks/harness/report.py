"""How benchmarks print: rich tables, one percentile function, and PASS/FAIL beside a target."""

import math
import re
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Files and pipes do not wrap: there a table gets the width its columns need.
UNWRAPPED_WIDTH = 170
PERCENTILES = (0.5, 0.95, 0.99)
_FIGURE = re.compile(r"[-+]?\d")

Row = Sequence[str] | None  # None: a line under the row before


def console() -> Console:
    terminal = Console()
    return terminal if terminal.is_terminal else Console(width=UNWRAPPED_WIDTH)


def say(text: str, *, style: str | None = None) -> None:
    """A line as it is: error bodies, plans and logs are full of square brackets."""
    console().print(text, style=style, markup=False, highlight=False, soft_wrap=True)


def table(
    title: str, headers: Sequence[str], rows: Iterable[Row], caption: str | None = None
) -> Table:
    """A table of text: the first column and the columns of words left-justified, the columns
    of figures right-justified."""
    rows = list(rows)
    shown = Table(title=title, caption=caption)
    for index, header in enumerate(headers):
        cells = [row[index] for row in rows if row is not None]
        shown.add_column(header, justify="right" if index and figures(cells) else "left")
    for row in rows:
        if row is None:
            shown.add_section()
        else:
            shown.add_row(*(Text(cell) for cell in row))
    return shown


def figures(cells: Sequence[str]) -> bool:
    """Whether a column holds figures: every cell but the empty ones starts with a number."""
    filled = [cell for cell in cells if cell not in ("", "-", "?", "n/a")]
    return bool(filled) and all(_FIGURE.match(cell) for cell in filled)


def print_tables(*tables: Table) -> None:
    out = console()
    for shown in tables:
        out.print(shown)


def percentile_ms(seconds: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of durations in seconds, in milliseconds."""
    ordered = sorted(seconds)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1] * 1000


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def percentiles(seconds: Sequence[float]) -> list[str]:
    """p50, p95, p99 and max, in milliseconds."""
    return [f"{percentile_ms(seconds, q):.1f}" for q in PERCENTILES] + [ms(max(seconds))]


def verdict(passed: bool | None) -> str:
    """PASS or FAIL; '-' where there is no target."""
    return {True: "PASS", False: "FAIL", None: "-"}[passed]
