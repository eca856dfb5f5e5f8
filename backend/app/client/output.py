"""How the commands show what the server answered: citations, search hits, tables."""

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def timestamp(seconds: float | None) -> str:
    """`1:02:03`, `4:05`, or empty when unknown."""
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def source_heading(number: int, source: dict[str, Any]) -> Text:
    """`[2] A talk at 4:05`: what a citation or hit points at."""
    heading = Text(f"[{number}] ", style="bold")
    heading.append(source.get("title") or source["youtube_video_id"])
    when = timestamp(source.get("moment_seconds"))
    if when:
        heading.append(f" at {when}", style="dim")
    return heading


def print_link(console: Console, url: str) -> None:
    # Never wrapped or folded: a link must survive being copied from the terminal.
    console.print(f"    {url}", style="cyan", soft_wrap=True, markup=False, highlight=False)


def print_citations(console: Console, citations: list[dict[str, Any]]) -> None:
    for citation in citations:
        console.print(source_heading(citation["number"], citation))
        print_link(console, citation["url"])


def highlighted(snippet: str) -> Text:
    """The snippet with the matched words (between `**`) in bold."""
    text = Text()
    for index, part in enumerate(snippet.split("**")):
        text.append(part, style="bold yellow" if index % 2 else "")
    return text


def print_hits(console: Console, results: dict[str, Any]) -> None:
    if not results["answerable"]:
        if not results["hits"]:
            console.print("No passage of your videos answers this.")
            return
        console.print("No passage answers this as a question; these hold its words:")
    for number, hit in enumerate(results["hits"], start=1):
        console.print(source_heading(number, hit))
        print_link(console, hit["url"])
        console.print(Text("    ") + highlighted(hit["snippet"]))


def transcripts_table(page: dict[str, Any]) -> Table:
    total = page["total"]
    table = Table(title=f"{total} video{'' if total == 1 else 's'}", title_justify="left")
    for column in ("video", "title", "channel", "length"):
        table.add_column(column, overflow="ellipsis")
    table.add_column("transcript id", no_wrap=True, min_width=36)  # whole, to be copied
    for item in page["items"]:
        table.add_row(
            item["youtube_video_id"],
            item["title"] or "",
            item["channel_name"] or "",
            timestamp(item["duration"]),
            item["id"],
        )
    return table


def minute(moment: str | None) -> str:
    """`2026-11-30 23:58` from an ISO 8601 time (as the server sent it, in UTC)."""
    return moment[:16].replace("T", " ") if moment else ""


def api_keys_table(page: dict[str, Any]) -> Table:
    table = Table()
    for column in ("name", "prefix", "scopes", "created", "expires", "last used", "revoked"):
        table.add_column(column)
    table.add_column("id", no_wrap=True, min_width=36)  # whole, for `talker keys revoke`
    for key in page["items"]:
        table.add_row(
            key["name"],
            key["key_prefix"],
            ", ".join(key["scopes"]),
            minute(key["created_at"]),
            minute(key["expires_at"]),
            minute(key["last_used_at"]),
            minute(key["revoked_at"]),
            key["id"],
        )
    return table
