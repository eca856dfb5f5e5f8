"""Choosing the sentences an answer quotes: by meaning and by words together.

Without a language model the answer is the 1 to 3 sentences of the cited passages that answer
the question best. Shared words alone pick the greeting that repeats the question's topic, and
miss a paraphrase or a question in another language; each sentence is therefore embedded by the
same model as the passages and scored by its closeness in meaning to the question, plus a share
of the question's rarer words it holds. Each quote keeps the second it is said.

Captions often carry no punctuation: a "sentence" longer than MAX_SENTENCE_WORDS is cut at
caption boundaries (or every SENTENCE_PIECE_WORDS words), so a quote stays short.
"""

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.services.embeddings.base import EmbeddingError, EmbeddingProvider
from app.services.extract import STOPWORDS, Quote

MAX_SENTENCE_WORDS = 45
SENTENCE_PIECE_WORDS = 25
MIN_SENTENCE_WORDS = 4
WORD_WEIGHT = 0.05  # the share of the question's words a sentence holds, against cosine
# A second or third sentence is quoted only when nearly as good as the best one.
QUOTE_MARGIN = 0.02
_SENTENCE_END = re.compile(r"[.!?…]['\")\]]*$")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A passage's sentence, located in its chunk."""

    number: int
    order: int  # the citation's rank, then the sentence's position
    text: str
    seconds: float | None


def sentences(text: str) -> list[tuple[int, str]]:
    """(word offset, sentence) of a text: cut at sentence ends, long runs cut in pieces, and
    a fragment too short to say anything joined to the sentence before."""
    words = text.split()
    pieces: list[tuple[int, int]] = []
    first = 0
    for position, word in enumerate(words, start=1):
        if _SENTENCE_END.search(word) or position - first >= MAX_SENTENCE_WORDS:
            pieces.append((first, position))
            first = position
    if first < len(words):
        pieces.append((first, len(words)))
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        if merged and end - start < MIN_SENTENCE_WORDS:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return [(start, " ".join(words[start:end])) for start, end in _split_long(merged)]


def _split_long(pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A piece as long as MAX_SENTENCE_WORDS (no sentence end in sight) cut in even parts."""
    result = []
    for start, end in pieces:
        if end - start < MAX_SENTENCE_WORDS:
            result.append((start, end))
            continue
        parts = max(2, round((end - start) / SENTENCE_PIECE_WORDS))
        bounds = [start + (end - start) * k // parts for k in range(parts + 1)]
        result += list(itertools.pairwise(bounds))
    return result


def second_of(word_offset: int, moments: Any, fallback: float | None) -> float | None:
    """When the word at `word_offset` of a chunk is said: the start of its caption."""
    if not isinstance(moments, list) or not moments:
        return fallback
    said = [float(seconds) for offset, seconds in moments if int(offset) <= word_offset]
    return said[-1] if said else fallback


def candidates_of(citations: Sequence[Any]) -> list[Candidate]:
    """The sentences of each citation's passage (its chunk when found without one)."""
    found = []
    for rank, citation in enumerate(citations):
        hit = citation.hit
        passage = hit.passage
        text = passage.text if passage is not None else hit.chunk_text
        base = passage.word_offset if passage is not None else 0
        start = passage.start_seconds if passage is not None else None
        for position, (offset, sentence) in enumerate(sentences(text)):
            seconds = second_of(base + offset, hit.metadata.get("moments"), start)
            found.append(Candidate(citation.number, rank * 1000 + position, sentence, seconds))
    return found


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 2}


def word_share(question: str, sentence: str) -> float:
    wanted = content_words(question)
    if not wanted:
        return 0.0
    held = content_words(sentence)
    # A word counts when the sentence holds it or a longer form of it ("ferment", "fermented").
    found = sum(any(h.startswith(w[:6]) for h in held) for w in wanted)
    return found / len(wanted)


async def choose_quotes(
    question: str,
    citations: Sequence[Any],
    provider: EmbeddingProvider | None,
    limit: int = 3,
) -> list[Quote]:
    """Up to `limit` sentences of the citations that answer the question best, best first."""
    candidates = candidates_of(citations)
    if not candidates:
        return []
    similarity = await _similarities(question, [c.text for c in candidates], provider)
    scored = sorted(
        (
            Quote(
                c.number,
                c.text,
                c.seconds,
                similarity[i] + WORD_WEIGHT * word_share(question, c.text),
            )
            for i, c in enumerate(candidates)
        ),
        key=lambda quote: -quote.score,
    )
    best = scored[0].score
    margin = QUOTE_MARGIN if provider is not None else 0.0
    return [quote for quote in scored[:limit] if quote.score >= best - margin] or scored[:1]


async def _similarities(
    question: str, texts: list[str], provider: EmbeddingProvider | None
) -> list[float]:
    """Each text's cosine similarity to the question; zeros without a working provider, so
    that the words alone decide."""
    if provider is None:
        return [0.0] * len(texts)
    try:
        query = np.asarray(await provider.embed_query(question), dtype=np.float32)
        vectors = np.asarray(await provider.embed_passages(texts), dtype=np.float32)
    except EmbeddingError:
        return [0.0] * len(texts)
    return [float(value) for value in vectors @ query]


async def answer_sentences(
    question: str, citations: Sequence[Any], provider: EmbeddingProvider | None
) -> list[tuple[int, str]]:
    """(citation number, sentence) pairs an offline answer quotes."""
    return [(q.number, q.text) for q in await choose_quotes(question, citations, provider)]
