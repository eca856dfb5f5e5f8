"""A transcript's text prepared for storing: captions parsed, segments ordered, the text chunked
and cut into passages, its words counted and its language read.

This is the CPU-bound part of storing a transcript (app/services/transcripts.py), pure Python
that holds the GIL for up to a second on a large file, so it runs in a worker process
(app/core/offload.py). This module, like chapters/finding.py that the pool also runs, imports
neither the database nor the web stack, which would cost each pool process about 0.7 s of CPU
to import. What crosses to it and back is strings, plain tuples and a short list of chunks:
pickling tens of thousands of segment objects would cost the event loop as much as the work.
"""

import unicodedata
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import orjson

from app.services.captions import parse_captions
from app.services.chunking import Segment, TextChunk, chunk_segments, chunk_text
from app.services.language import spoken_language
from app.services.passages import TextPassage, chunk_passages
from app.services.text_units import spaced

if TYPE_CHECKING:
    from app.core.config import Settings


@dataclass(frozen=True, slots=True)
class CaptionFile:
    """An SRT or WebVTT file's text, parsed in the worker process."""

    content: str
    format: str


@dataclass(frozen=True, slots=True)
class ChunkOptions:
    max_tokens: int
    overlap: float
    encoding: str

    @classmethod
    def of(cls, settings: "Settings") -> "ChunkOptions":
        return cls(settings.chunk_tokens, settings.chunk_overlap, settings.tokenizer_encoding)


# What the worker process receives: the caption file, plain (text, start, duration) tuples, or
# the plain text.
TextSource = CaptionFile | list[tuple[str, float, float]] | str


@dataclass(frozen=True, slots=True)
class PreparedChunk:
    index: int
    text: str
    token_count: int
    metadata_json: bytes  # serialised in the worker process, stored as it is
    passages: list[TextPassage]


@dataclass(frozen=True, slots=True)
class PreparedTranscript:
    """What the worker process returns: cheap to send back."""

    full_text: str  # as it was sent, in composed form (NFC): what a reader gets back
    chunks: list[PreparedChunk]
    segments_json: bytes | None  # the timed segments as a JSON array, kept in the metadata
    timed_duration: int | None  # the last cue's end, when the text is timed
    word_count: int  # counted against the owner's stored-words quota
    language: str | None  # the language it is spoken in (app/services/language.py)


def prepare_text(source: TextSource, options: ChunkOptions) -> PreparedTranscript:
    """Parse (captions), order (segments) and chunk. Runs in a worker process."""
    chunking = (options.max_tokens, options.overlap, options.encoding)
    # The words as every later step counts them (text_units.py: spaces after the sentences of
    # a script written without them, long runs cut) go to the chunks; the transcript and its
    # segments are stored as they were sent.
    if isinstance(source, str):
        text = spaced(source)
        chunks = _prepared(chunk_text(text, *chunking))
        composed = unicodedata.normalize("NFC", source)
        return PreparedTranscript(
            composed, chunks, None, None, len(text.split()), spoken_language(text)
        )
    if isinstance(source, CaptionFile):
        parsed = parse_captions(source.content, source.format)
    else:
        parsed = sorted((Segment(*values) for values in source), key=lambda s: s.start)
    composed_segments = [
        replace(segment, text=unicodedata.normalize("NFC", segment.text)) for segment in parsed
    ]
    segments = [replace(segment, text=spaced(segment.text)) for segment in parsed]
    counted_text = " ".join(segment.text.strip() for segment in segments)
    segments_json = orjson.dumps(
        [{"text": s.text, "start": s.start, "duration": s.duration} for s in composed_segments]
    )
    last_end = max(segment.start + segment.duration for segment in segments)
    chunks = _prepared(chunk_segments(segments, *chunking))
    return PreparedTranscript(
        " ".join(segment.text.strip() for segment in composed_segments),
        chunks,
        segments_json,
        round(last_end),
        len(counted_text.split()),
        spoken_language(counted_text),
    )


def _prepared(chunks: list[TextChunk]) -> list[PreparedChunk]:
    prepared = []
    for chunk in chunks:
        metadata = chunk_metadata(chunk)
        passages = chunk_passages(chunk.text, metadata)
        prepared.append(
            PreparedChunk(
                chunk.index, chunk.text, chunk.token_count, orjson.dumps(metadata), passages
            )
        )
    return prepared


def chunk_metadata(chunk: TextChunk) -> dict[str, Any]:
    if chunk.start is None or chunk.end is None:
        return {}
    return {
        "start_seconds": round(chunk.start, 3),
        "end_seconds": round(chunk.end, 3),
        "moments": [[offset, round(seconds, 2)] for offset, seconds in chunk.moments],
    }
