"""Citations: the numbered passages an answer refers to, each with a link to its moment."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.db.repositories import ChunkHit
from app.services.retrieval.moments import end_seconds, moment_seconds, start_seconds
from app.services.retrieval.ranking import RankedHit
from app.services.youtube.links import watch_url


def deep_link(hit: ChunkHit, seconds: float | None) -> str:
    """The video at that moment (`https://youtu.be/{id}?t={seconds}`)."""
    return watch_url(hit.youtube_video_id, seconds)


def placed(hit: ChunkHit, moment: float | None) -> dict[str, Any]:
    """Which passage of which video, when it is said and the link to that moment: what a
    citation and a search hit both show."""
    return {
        "transcript_id": str(hit.transcript_id),
        "chunk_id": str(hit.chunk_id),
        "chunk_index": hit.chunk_index,
        "youtube_video_id": hit.youtube_video_id,
        "title": hit.title,
        "start_seconds": start_seconds(hit),
        "end_seconds": end_seconds(hit),
        "moment_seconds": moment,
        "url": deep_link(hit, moment),
    }


@dataclass(frozen=True, slots=True)
class Citation:
    number: int
    hit: ChunkHit
    moment: float | None  # when the cited passage is said

    @classmethod
    def numbered(cls, hits: Sequence[RankedHit], question: str) -> list["Citation"]:
        return [
            cls(number, ranked.hit, moment_seconds(ranked.hit, question))
            for number, ranked in enumerate(hits, start=1)
        ]

    @property
    def url(self) -> str:
        """The video at the cited moment."""
        return deep_link(self.hit, self.moment)

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, **placed(self.hit, self.moment)}


# A citation mark, with the space before it: a mark taken out leaves no space before a stop.
_CITATION_MARK = re.compile(r"\s*\[(\d+)\]")


def without_invented_citations(citations: Sequence[Citation], text: str) -> str:
    """The text without the [n] marks of excerpts that do not exist: a model may invent a
    number, and a link to nothing is never shown."""
    numbers = {citation.number for citation in citations}
    return _CITATION_MARK.sub(
        lambda mark: mark.group(0) if int(mark.group(1)) in numbers else "", text
    )


def source_line(citation: Citation) -> str:
    """A source as a draft lists it: `[n] title (m:ss) link`."""
    hit = citation.hit
    when = timestamp_label(citation.moment)
    label = hit.title or hit.youtube_video_id
    return f"[{citation.number}] {label}" + (f" ({when})" if when else "") + f" {citation.url}"


def timestamp_label(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
