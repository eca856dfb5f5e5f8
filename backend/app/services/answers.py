"""Choosing the sentences an answer quotes: by meaning and by words together.

Without a language model the answer is the 1 to 3 sentences of the cited passages that answer
the question best. Shared words alone pick the greeting that repeats the question's topic, and
miss a paraphrase or a question in another language; each sentence is therefore embedded by the
same model as the passages and scored by its closeness in meaning to the question, plus a share
of the question's rarer words it holds. Each quote keeps the second it is said.

Captions often carry no punctuation: a "sentence" longer than MAX_SENTENCE_WORDS is cut at
caption boundaries (or every SENTENCE_PIECE_WORDS words), so a quote stays short.

A passage is cut at caption boundaries, which fall mid-sentence as often as not: its sentences
are therefore read from its chunk, whole, where they start before the passage or end after it,
and a sentence found also as part of a longer one (where chunks overlap) is quoted whole. A
sentence counts its closeness to the question with what its passage's language cost it given
back, as passages do: without that, a Polish question quoted Spanish sentences first.

Questions a speaker asks stay candidates: in an oral argument the question carries the facts
(penalising them cost the tuning split one answer citing its passage, and helped none).
"""

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from app.services.embeddings.base import EmbeddingError, EmbeddingProvider
from app.services.embeddings.cache import PassageVectorCache
from app.services.extract import STOPWORDS, Quote
from app.services.retrieval import Citation, caption_second
from app.services.text_units import ENDS_A_SENTENCE, UNSPACED_SCRIPT

MAX_SENTENCE_WORDS = 45
SENTENCE_PIECE_WORDS = 25
MIN_SENTENCE_WORDS = 4
MIN_SENTENCE_CHARACTERS = 12
# A sentence's score: its cosine similarity to the question, plus its passage's retrieval score
# against the best passage's times PASSAGE_WEIGHT, plus the share of the question's words it
# holds times WORD_WEIGHT. Fitted on the tuning split of the labelled set (`make eval`):
# quoting three sentences of distinct passages, from the best five, cited the passage holding
# the answer most often; the question's words added nothing once meaning was measured.
PASSAGE_WEIGHT = 1.0
WORD_WEIGHT = 0.0
PASSAGES_QUOTED = 5
# The sentences' vectors, kept for the next answers on the same passages (the process's own).
SENTENCE_VECTORS = PassageVectorCache()
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence of a found passage, with the citation of the passage's chunk."""

    number: int
    passage: int  # the passage's rank among those found
    passage_score: float
    text: str
    seconds: float | None
    hit: Any  # the passage's hit
    language_shift: float = 0.0  # what the passage's language costs it (retrieval/ranking.py)


def sentences(text: str) -> list[tuple[int, str]]:
    """(word offset, sentence) of a text: cut at sentence ends, long runs cut in pieces, and
    a fragment too short to say anything joined to the sentence before."""
    words = text.split()
    pieces: list[tuple[int, int]] = []
    first = 0
    for position, word in enumerate(words, start=1):
        if ENDS_A_SENTENCE.search(word) or position - first >= MAX_SENTENCE_WORDS:
            pieces.append((first, position))
            first = position
    if first < len(words):
        pieces.append((first, len(words)))
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        if merged and _too_short(words[start:end]):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return [(start, " ".join(words[start:end])) for start, end in _split_long(merged)]


def _too_short(words: list[str]) -> bool:
    """A fragment that says nothing alone ("Yes." "So."): few words; in a script written
    without spaces, where a sentence is one "word", few characters."""
    if any(UNSPACED_SCRIPT.search(word) for word in words):
        return sum(map(len, words)) < MIN_SENTENCE_CHARACTERS
    return len(words) < MIN_SENTENCE_WORDS


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


def candidates_of(citations: Sequence[Any], found: Sequence[Any]) -> list[Candidate]:
    """The whole sentences of the best PASSAGES_QUOTED passages found (ranked hits, several per
    chunk) whose chunks are cited; of each cited chunk's own passage when none is given. A
    sentence also found inside a longer one is left to the longer."""
    numbers = {citation.hit.chunk_id: citation.number for citation in citations}
    ranked = [r for r in found if r.hit.chunk_id in numbers][:PASSAGES_QUOTED] or [
        _Cited(c.hit, 0.0) for c in citations
    ]
    candidates = []
    for rank, passage in enumerate(ranked):
        hit = passage.hit
        span = hit.passage
        start = span.start_seconds if span is not None else None
        shift = getattr(passage, "language_shift", 0.0)
        for offset, sentence in passage_sentences(hit.chunk_text, span):
            seconds = caption_second(hit.metadata.get("moments"), offset, start)
            candidates.append(
                Candidate(numbers[hit.chunk_id], rank, passage.score, sentence, seconds, hit, shift)
            )
    return _whole(candidates)


def passage_sentences(chunk_text: str, span: Any) -> list[tuple[int, str]]:
    """(word offset in the chunk, sentence) of each sentence a passage holds words of, whole as
    far as its chunk goes: every sentence of the chunk without a passage."""
    said = chunk_sentences(chunk_text)
    if span is None:
        return said
    first = span.word_offset
    last = first + len(span.text.split())
    return [(o, s) for o, s in said if o < last and o + len(s.split()) > first]


@lru_cache(maxsize=512)
def chunk_sentences(chunk_text: str) -> list[tuple[int, str]]:
    return sentences(chunk_text)


def _whole(candidates: list[Candidate]) -> list[Candidate]:
    """Chunks overlap, and one may start or end inside a sentence its neighbour holds whole:
    a sentence found inside a longer one is dropped for it."""
    texts = {c.text for c in candidates}
    return [c for c in candidates if not any(c.text in t and c.text != t for t in texts)]


@dataclass(frozen=True, slots=True)
class _Cited:
    hit: Any
    score: float


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
    found: Sequence[Any] = (),
    limit: int = 3,
    question_vector: Sequence[float] | None = None,
    said_before: str = "",
) -> list[Quote]:
    """Up to `limit` sentences that answer the question best, each from another passage, best
    first. `found` are the passages retrieval scored (RankedHit, best first): a sentence counts
    its closeness to the question plus its passage's score against the best passage's.
    `question_vector`, the provider's vector of the question when the caller has it already,
    saves embedding the question again. A sentence `said_before` (the answer a follow-up
    follows) is not quoted again, unless nothing else is found."""
    candidates = candidates_of(citations, found)
    candidates = [c for c in candidates if c.text not in said_before] or candidates
    if not candidates:
        return []
    texts = [c.text for c in candidates]
    similarity = await _similarities(question, texts, provider, question_vector)
    # Without meaning (no provider), the question's words choose.
    words = WORD_WEIGHT if provider is not None else 1.0
    best = max(c.passage_score for c in candidates)
    scored = sorted(
        (
            (
                similarity[i]
                - c.language_shift
                + PASSAGE_WEIGHT * (c.passage_score - best)
                + words * word_share(question, c.text),
                c,
            )
            for i, c in enumerate(candidates)
        ),
        key=lambda pair: -pair[0],
    )
    quotes: list[Quote] = []
    passages: set[int] = set()
    said: set[str] = set()  # overlapping chunks hold some sentences twice: quoted once
    for score, candidate in scored:
        if candidate.passage not in passages and candidate.text not in said and len(quotes) < limit:
            passages.add(candidate.passage)
            said.add(candidate.text)
            quotes.append(
                Quote(candidate.number, candidate.text, candidate.seconds, score, candidate.hit)
            )
    return quotes


async def _similarities(
    question: str,
    texts: list[str],
    provider: EmbeddingProvider | None,
    question_vector: Sequence[float] | None,
) -> list[float]:
    """Each text's cosine similarity to the question; zeros without a working provider, so
    that the words alone decide."""
    if provider is None:
        return [0.0] * len(texts)
    try:
        vector = question_vector or await provider.embed_query(question)
        query = np.asarray(vector, dtype=np.float32)
        vectors = await SENTENCE_VECTORS.embed_passages(provider, texts)
    except EmbeddingError:
        return [0.0] * len(texts)
    return [float(value) for value in vectors @ query]


async def answer_sentences(
    question: str,
    citations: Sequence[Any],
    provider: EmbeddingProvider | None,
    found: Sequence[Any] = (),
    question_vector: Sequence[float] | None = None,
) -> list[tuple[int, str]]:
    """(citation number, sentence) pairs an offline answer quotes."""
    quotes = await choose_quotes(question, citations, provider, found, 3, question_vector)
    return [(q.number, q.text) for q in quotes]


def cite_each_quote(
    citations: Sequence[Citation], quotes: Sequence[Quote]
) -> tuple[list[Citation], list[Quote]]:
    """The citations renumbered so that each quoted sentence has one of its own, linking to
    the second it is said and spanning its own passage, and the quotes renumbered to match. A
    citation is a chunk, and the sentences quoted from one chunk may be said minutes apart:
    under one number, all but one would link to the wrong moment. Sentences said at the same
    second share a citation. The quoted come first, in the quotes' order (the answer's), then
    the citations nothing is quoted from, with their own moments."""
    chunks = {citation.number: citation for citation in citations}
    renumbered: list[Citation] = []
    numbers: dict[tuple[int, float | None], int] = {}
    for quote in quotes:
        if (quote.number, quote.seconds) not in numbers:
            chunk = chunks[quote.number]
            moment = quote.seconds if quote.seconds is not None else chunk.moment
            hit = quote.hit if quote.hit is not None else chunk.hit
            renumbered.append(replace(chunk, number=len(renumbered) + 1, moment=moment, hit=hit))
            numbers[(quote.number, quote.seconds)] = len(renumbered)
    quoted = {quote.number for quote in quotes}
    for citation in citations:
        if citation.number not in quoted:
            renumbered.append(replace(citation, number=len(renumbered) + 1))
    return renumbered, [replace(q, number=numbers[(q.number, q.seconds)]) for q in quotes]
