"""Passages: the unit of finding. A chunk is cut into runs of whole caption cues, each short
enough for the embedding model to read whole (well under its 256 to 512 word pieces, about 30 to
60 seconds of speech), with the second it starts and ends.

A chunk of 700 tokens holds several topics; its single vector is a blur of them, and a citation
to its first second points at the wrong moment. Each passage is found by its own vector and its
own words, a chunk scores by its best passage, and a citation links to its passage's second.

Passages are cut from a chunk's own text and its caption starts (`moments` in the chunk's
metadata), so the chunks already stored can be given passages without their transcript.
Chunks overlap, and so do their passages there: each passage belongs to exactly one chunk.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.services.text_units import ENDS_A_SENTENCE

# A passage grows cue by cue until it holds this many words, and never past the maximum (a
# longer cue is cut between words). At 150 words a minute: 30 to 50 seconds of speech.
TARGET_WORDS = 75
MAX_WORDS = 120
# An untimed chunk is cut at a sentence's end once a passage reaches the target.


@dataclass(frozen=True, slots=True)
class TextPassage:
    index: int  # within its chunk
    text: str
    word_offset: int  # of its first word within the chunk's text
    start: float | None  # seconds, when the chunk is timed
    end: float | None


def chunk_passages(chunk_text: str, metadata: Mapping[str, Any]) -> list[TextPassage]:
    """The chunk's passages, in order, covering every word once."""
    words = chunk_text.split()
    if not words:
        return []
    cues = _cue_starts(metadata, len(words))
    spans = _timed_spans(cues, len(words)) if cues else _untimed_spans(words)
    end_of_chunk = _seconds(metadata.get("end_seconds"))
    starts = {offset: seconds for offset, seconds in cues}
    passages = []
    for index, (first, last) in enumerate(spans):
        start = starts.get(first, _start_before(cues, first))
        end = _start_before(cues, last) if last < len(words) else end_of_chunk
        passages.append(
            TextPassage(index, " ".join(words[first:last]), first, start, end if end else None)
        )
    return _with_ends_after_starts(passages, end_of_chunk)


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _cue_starts(metadata: Mapping[str, Any], word_count: int) -> list[tuple[int, float]]:
    """(word offset, seconds) of each caption cue starting inside the chunk, ordered."""
    moments = metadata.get("moments") or []
    cues = sorted(
        (int(offset), float(seconds))
        for offset, seconds in moments
        if 0 <= int(offset) < word_count
    )
    if not cues and (start := _seconds(metadata.get("start_seconds"))) is not None:
        return [(0, start)]
    if cues and cues[0][0] != 0:
        cues.insert(0, (0, cues[0][1]))
    return cues


def _timed_spans(cues: Sequence[tuple[int, float]], word_count: int) -> list[tuple[int, int]]:
    """Word ranges of whole cues: a range closes at a cue boundary once it holds TARGET_WORDS,
    or before a cue that would take it past MAX_WORDS."""
    boundaries = [offset for offset, _ in cues[1:]] + [word_count]
    spans: list[tuple[int, int]] = []
    first = previous = 0  # where the open range starts; the last cue boundary passed
    for boundary in boundaries:
        if boundary - first > MAX_WORDS and previous > first:
            spans.append((first, previous))
            first = previous
        while boundary - first > MAX_WORDS:  # one cue longer than a passage: cut it
            spans.append((first, first + TARGET_WORDS))
            first += TARGET_WORDS
        if boundary - first >= TARGET_WORDS:
            spans.append((first, boundary))
            first = boundary
        previous = boundary
    if first < word_count:
        spans.append((first, word_count))
    return _merge_short_tail(spans)


def _untimed_spans(words: Sequence[str]) -> list[tuple[int, int]]:
    """Word ranges ending at a sentence's end once they hold TARGET_WORDS, else at MAX_WORDS."""
    spans: list[tuple[int, int]] = []
    first = 0
    for position, word in enumerate(words, start=1):
        length = position - first
        if (length >= TARGET_WORDS and ENDS_A_SENTENCE.search(word)) or length >= MAX_WORDS:
            spans.append((first, position))
            first = position
    if first < len(words):
        spans.append((first, len(words)))
    return _merge_short_tail(spans)


def _merge_short_tail(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A last range of a few words joins the one before when both fit in MAX_WORDS: alone it
    would be a passage too short to mean anything."""
    if len(spans) >= 2:
        (first, _), (_, last) = spans[-2], spans[-1]
        tail = spans[-1][1] - spans[-1][0]
        if tail < TARGET_WORDS // 3 and last - first <= MAX_WORDS:
            return [*spans[:-2], (first, last)]
    return spans


def _start_before(cues: Sequence[tuple[int, float]], offset: int) -> float | None:
    """The start of the cue holding the word at `offset`."""
    holding = [seconds for cue_offset, seconds in cues if cue_offset <= offset]
    return holding[-1] if holding else None


def _with_ends_after_starts(
    passages: list[TextPassage], end_of_chunk: float | None
) -> list[TextPassage]:
    """A passage ends where the next one starts; one whose cue started with the one before
    (several cues at one second) still ends no earlier than it starts."""
    fixed = []
    for passage in passages:
        end = passage.end
        if passage.start is not None and (end is None or end < passage.start):
            end = max(passage.start, end_of_chunk or passage.start)
        fixed.append(
            TextPassage(passage.index, passage.text, passage.word_offset, passage.start, end)
        )
    return fixed
