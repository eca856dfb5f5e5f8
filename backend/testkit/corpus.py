"""The labelled retrieval sets: talks, and questions about them.

Search and the "not in your videos" decision are tuned and measured on two sets, each split once
by talk into a tuning part and a test part:
- `LONG_TALKS`: long transcripts of real talks, in `talks/` (WebVTT where the source has real
  timings, else JSON segments timed at speaking pace), `talks/README.md` saying where each came
  from, and `questions.json`;
- `VIEWER_TALKS`: short talks (10 to 13 minutes) written for this set, in `viewer_talks/`,
  with questions as viewers type them: in their own words, short, now and then misspelt.
A set's `index.json` gives each caption file its video id, title, language and split. Answerable
questions name their video and quote, verbatim, the passage that answers them; unanswerable ones
name neither (a near-topic one may name the talk it is `about`), and chat should decline them.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.services.chunking import Segment

HERE = Path(__file__).parent
TALKS_DIR = HERE / "talks"

Kind = Literal["verbatim", "paraphrase", "other_language", "unanswerable"]
# A misspelt answerable question; the kinds of unanswerable ones.
Subkind = Literal["typo", "off_topic_shared_word", "off_topic", "near_topic"]
Split = Literal["tuning", "test"]
KINDS: tuple[Kind, ...] = ("verbatim", "paraphrase", "other_language", "unanswerable")
SPLITS: tuple[Split, ...] = ("tuning", "test")
SUBKINDS: tuple[Subkind, ...] = ("typo", "off_topic_shared_word", "off_topic", "near_topic")

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
    subkind: Subkind | None = None
    language: str = "en"  # of the question; other_language questions differ from the talk's
    # Split once, by talk: tuning questions fit the ranking and the decision, test ones report.
    split: Split = "tuning"
    about: str | None = None  # the talk an unanswerable question was written about, if one

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def normalise_space(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class LabelledSet:
    """Caption files listed in `talks_dir/index.json`, and the questions of `questions_file`."""

    name: str
    talks_dir: Path
    questions_file: Path

    def talks(self) -> tuple[Talk, ...]:
        return tuple(
            Talk(
                entry["video_id"],
                entry["title"],
                _read_segments(self.talks_dir / entry["file"]),
                entry.get("language", "en"),
                _split(entry.get("split", "tuning")),
            )
            for entry in self._index()
        )

    def questions(self) -> tuple[Question, ...]:
        raw = json.loads(self.questions_file.read_text(encoding="utf-8"))
        splits = {talk["video_id"]: talk.get("split", "tuning") for talk in self._index()}
        return tuple(_question(item, splits) for item in raw)

    def _index(self) -> list[dict[str, str]]:
        entries: list[dict[str, str]] = json.loads(
            (self.talks_dir / "index.json").read_text(encoding="utf-8")
        )
        return entries


LONG_TALKS = LabelledSet("long talks", TALKS_DIR, HERE / "questions.json")
VIEWER_TALKS = LabelledSet(
    "short talks, viewers' questions", HERE / "viewer_talks", HERE / "viewer_talks/questions.json"
)


def load_talks() -> tuple[Talk, ...]:
    return LONG_TALKS.talks()


def load_questions() -> tuple[Question, ...]:
    return LONG_TALKS.questions()


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
        about=item.get("about"),
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
