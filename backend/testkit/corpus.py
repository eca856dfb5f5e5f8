"""The labelled retrieval corpus: long transcripts of real talks, and questions about them.

Search and the "not in your videos" decision are tuned and measured on this set. The talks are
public transcripts stored as caption files in `talks/` (WebVTT where the source has real timings,
else JSON segments timed at speaking pace); `talks/index.json` gives each file its video id and
title, and `talks/README.md` records where each came from. `questions.json` holds the questions:
answerable ones name their video and quote, verbatim, the passage that answers them;
unanswerable ones name neither, and chat should decline them.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.services.chunking import Segment

HERE = Path(__file__).parent
TALKS_DIR = HERE / "talks"
QUESTIONS_FILE = HERE / "questions.json"

Kind = Literal["verbatim", "paraphrase", "other_language", "unanswerable"]
Subkind = Literal["off_topic_shared_word", "near_topic"]
Split = Literal["tuning", "test"]
KINDS: tuple[Kind, ...] = ("verbatim", "paraphrase", "other_language", "unanswerable")
SPLITS: tuple[Split, ...] = ("tuning", "test")
SUBKINDS: tuple[Subkind, ...] = ("off_topic_shared_word", "near_topic")

_VTT_TIMING = re.compile(r"^(\d+):(\d{2}):(\d{2}\.\d{3}) --> (\d+):(\d{2}):(\d{2}\.\d{3})")


@dataclass(frozen=True, slots=True)
class Talk:
    video_id: str
    title: str
    segments: tuple[Segment, ...]
    language: str = "en"
    split: Split = "tuning"

    @property
    def text(self) -> str:
        """The whole transcript as one whitespace-normalised string."""
        return normalise_space(" ".join(segment.text for segment in self.segments))


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    kind: Kind
    video_id: str | None
    answer: str | None  # a verbatim quote of the passage that answers, for answerable kinds
    subkind: Subkind | None = None  # only for unanswerable questions
    language: str = "en"  # of the question; other_language questions differ from the talk's
    # Split once, by talk: tuning questions fit the ranking and the decision, test ones report.
    split: Split = "tuning"

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def normalise_space(text: str) -> str:
    return " ".join(text.split())


def load_talks() -> tuple[Talk, ...]:
    entries = _index()
    return tuple(
        Talk(
            entry["video_id"],
            entry["title"],
            _read_segments(TALKS_DIR / entry["file"]),
            entry.get("language", "en"),
            _split(entry.get("split", "tuning")),
        )
        for entry in entries
    )


def load_questions() -> tuple[Question, ...]:
    raw = json.loads(QUESTIONS_FILE.read_text(encoding="utf-8"))
    splits = {talk["video_id"]: talk.get("split", "tuning") for talk in _index()}
    return tuple(_question(item, splits) for item in raw)


def _index() -> list[dict[str, str]]:
    entries: list[dict[str, str]] = json.loads(
        (TALKS_DIR / "index.json").read_text(encoding="utf-8")
    )
    return entries


def _split(value: str | None) -> Split:
    if value not in SPLITS:
        raise ValueError(f"unknown split {value!r}: expected one of {SPLITS}")
    return value


def _question(item: dict[str, str | None], splits: dict[str, str]) -> Question:
    kind = item["kind"]
    if kind not in KINDS:
        raise ValueError(f"unknown question kind {kind!r} in {item!r}")
    subkind = item.get("subkind")
    if subkind is not None and subkind not in SUBKINDS:
        raise ValueError(f"unknown question subkind {subkind!r} in {item!r}")
    return Question(
        text=str(item["text"]),
        kind=kind,
        video_id=item.get("video_id"),
        answer=item.get("answer"),
        subkind=subkind,
        language=item.get("language") or "en",
        split=_split(item.get("split") or splits.get(item.get("video_id") or "", "tuning")),
    )


def _read_segments(path: Path) -> tuple[Segment, ...]:
    if path.suffix == ".vtt":
        return _read_vtt(path.read_text(encoding="utf-8"))
    if path.suffix == ".json":
        raw = json.loads(path.read_text(encoding="utf-8"))
        return tuple(
            Segment(item["text"], float(item["start"]), float(item["duration"]))
            for item in raw["segments"]
        )
    raise ValueError(f"unsupported caption file {path.name!r}: expected .vtt or .json")


def _read_vtt(content: str) -> tuple[Segment, ...]:
    """Cues of a WebVTT file: a timing line, then text lines up to a blank line."""
    segments: list[Segment] = []
    lines = content.splitlines()
    index = 0
    while index < len(lines):
        timing = _VTT_TIMING.match(lines[index])
        index += 1
        if timing is None:
            continue
        text_lines: list[str] = []
        while index < len(lines) and lines[index].strip():
            text_lines.append(lines[index].strip())
            index += 1
        start = _seconds(*timing.group(1, 2, 3))
        end = _seconds(*timing.group(4, 5, 6))
        segments.append(Segment(" ".join(text_lines), start, round(end - start, 3)))
    return tuple(segments)


def _seconds(hours: str, minutes: str, seconds: str) -> float:
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
