"""How benchmarks print: rich tables, one percentile function, and PASS/FAIL beside a target."""

import math
import re
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

UNWRAPPED_WIDTH = 170  # files and pipes do not wrap: there a table gets the width it needs
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
    """The first column and the columns of words left-justified, those of figures right."""
    rows = list(rows)
    shown = Table(title=title, caption=caption)
    for index, header in enumerate(headers):
        cells = [row[index] for row in rows if row is not None]
        filled = [cell for cell in cells if cell not in ("", "-", "?", "n/a")]
        figures = bool(filled) and all(_FIGURE.match(cell) for cell in filled)
        shown.add_column(header, justify="right" if index and figures else "left")
    for row in rows:
        if row is None:
            shown.add_section()
        else:
            shown.add_row(*(Text(cell) for cell in row))
    return shown


def print_tables(*items: Table | str) -> None:
    """Tables, and lines said as they are."""
    out = console()
    for item in items:
        if isinstance(item, str):
            say(item)
        else:
            out.print(item)


def percentile_ms(seconds: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of durations in seconds, in milliseconds."""
    ordered = sorted(seconds)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1] * 1000


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def percentiles(
    seconds: Sequence[float], fractions: Sequence[float] = (0.5, 0.95, 0.99)
) -> list[str]:
    """The percentiles (p50, p95, p99 unless given) and the max, in milliseconds."""
    return [f"{percentile_ms(seconds, q):.1f}" for q in fractions] + [ms(max(seconds))]


def verdict(passed: bool | None) -> str:
    """PASS or FAIL; '-' where there is no target."""
    return {True: "PASS", False: "FAIL", None: "-"}[passed]
