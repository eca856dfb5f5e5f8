"""Finding the passages of a user's videos that answer a question, with links to the moment.

Two signals, one ranking:
- lexical: PostgreSQL full-text search over the chunks (any of the question's words, ranked by
  `ts_rank`; in a search, websearch syntax such as "a phrase" or -word is honoured strictly),
  which finds names, rare words and quoted phrases;
- semantic: the cosine similarity of the question's vector to each chunk's (pgvector), which
  finds the passage when the question uses other words.
Each side proposes its best candidates (signals.py); every candidate then gets both signals
and one score:

    score = similarity - language shift
            + coverage_weight * coverage + rank_weight * rank / best rank

where coverage is the share of the question's words found in the chunk (or its video's title),
and the language shift is what the passage's language costs it: the model rates a passage in
the question's own language higher than an equally relevant one in another, so a Spanish
question about an English talk found the Spanish passages of another talk first, and an
English question about a German debate found English passages. The shift is how much further
the question is from everyday paragraphs in the passage's language than from the same
paragraphs in the language it comes closest to (its own; background.py): 0 for a passage in
the question's language, and for passages of a transcript whose language is unknown or has no
such paragraphs.

The weights and the thresholds below were chosen on the labelled sets (tests/retrieval) for
each kind of question, not for single questions.

The same evidence decides whether the videos answer the question at all: the best passage must
be close enough in meaning (its similarity, with what its language cost it given back, standing
above the model's everyday level), or share enough of the question's words when no vector is
available. A question that fails is declined: chat says the videos do not cover it, and search
lists only the passages holding (nearly) every word of it (`Retrieval.listed`).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.db.repositories import ChunkHit
from app.db.repositories.passage import QueryWords
from app.services.retrieval.signals import Candidate, QueryVector, SearchMode, find_candidates

# Quotes or a -word: the person asks for exactly these words. ("or" is too common in
# questions to be read as the operator here.)
WEBSEARCH_SYNTAX = re.compile(r'"|(^|\s)-\w')


@dataclass(frozen=True, slots=True)
class Ranking:
    """The weights and thresholds of the ranking and of the answerability decision."""

    coverage_weight: float = 0.02
    rank_weight: float = 0.0
    # Without vectors (lexical search), the full-text rank against the best one's, beside the
    # share of the question's words.
    lexical_rank_weight: float = 0.25
    # Answerable when the best passage's similarity reaches this (hybrid and semantic), and
    # when, with what its language cost it given back, it stands at least `min_margin` above
    # the model's everyday level: how close a question comes, on average, to everyday
    # sentences that answer nothing (app/services/embeddings/background.py). Fitted on both
    # labelled sets' tuning splits: the largest margin declining at most 5 % of their
    # answerable questions (8 of 161).
    min_similarity: float = 0.25
    min_margin: float = 0.073
    # ...less this share of the question's (rarity-weighted) words the passage holds: shared
    # words lift a passage's similarity without its meaning answering, so a passage holding
    # them must stand out further. Fitted with the margin on the long talks' tuning split (a
    # logistic fit of margin and coverage), where it declined 67 % of off-topic questions
    # against 58 % for the margin alone, at the same 4 % of answerable ones.
    shared_words_discount: float = 0.035
    # A passage holding (nearly) every one of two or more words of the question is about what
    # it asks: its shared words are no coincidence, and count for it by the same amount. Without
    # this, "When is the oven preheated?" on a short talk holding both words was answered while
    # its vectors were being made and declined once they were in (a margin of 0.109). Nothing
    # on the labelled set changes: every question holding its words there stood out anyway.
    every_word_coverage: float = 0.8
    # ...or, when no vector exists yet, when it holds this share of the question's words.
    min_coverage: float = 0.4
    # A passage is listed at all when at least this close in meaning, when it holds enough of
    # the question's words (below), or, without a vector, one of them: search shows what may
    # be relevant.
    listed_similarity: float = 0.1
    # The best full-text match holding this share of the question's words always makes the
    # list: exact names and rare words are what full-text search is sure of.
    keep_lexical_coverage: float = 0.5
    # An answer cites the passages scoring within this of the best one.
    citation_margin: float = 0.15

    @classmethod
    def of(cls, settings: Settings) -> "Ranking":
        """The ranking with the answerability thresholds the (runtime) settings give."""
        return cls(
            min_similarity=settings.answer_min_similarity,
            min_margin=settings.answer_min_margin,
            min_coverage=settings.answer_min_coverage,
        )


@dataclass(frozen=True, slots=True)
class RankedHit:
    """A chunk with the evidence that it answers the question."""

    hit: ChunkHit
    similarity: float | None
    score: float
    # What the passage's language costs its similarity to the question (<= 0; module doc).
    language_shift: float = 0.0

    @property
    def signals(self) -> list[str]:
        """Which signals found this chunk: the question's words, its meaning, or both."""
        found = ["lexical"] if self.hit.matched_terms else []
        if self.similarity is not None:
            found.append("semantic")
        return found


@dataclass(frozen=True, slots=True)
class Retrieval:
    mode: SearchMode  # the mode used: hybrid falls back to lexical before vectors exist
    hits: list[RankedHit]  # passages that may be relevant, best first
    answerable: bool  # whether the best of them answers the question
    ranking: "Ranking"
    # Every passage found, scored, best first (several per chunk), and the question's words
    # with how many passages hold each: the evidence the decision above was made on.
    passages: list[RankedHit] = field(default_factory=list)
    words: QueryWords | None = None

    def listed(self) -> list[RankedHit]:
        """The hits a search shows: all of them when the question is answered; else only those
        holding (nearly) every word of it. Words alone are still found ("starter"), and no
        passage merely near in meaning is shown for a question no video answers."""
        if self.answerable:
            return self.hits
        return [ranked for ranked in self.hits if holds_its_words(ranked.hit, self.ranking)]

    def supporting(self) -> list[RankedHit]:
        """The passages an answer may cite: none when the question is not answerable."""
        if not self.answerable:
            return []
        best = self.hits[0].score
        return [r for r in self.hits if r.score >= best - self.ranking.citation_margin]


async def retrieve(
    session: AsyncSession,
    user_id: UUID,
    question: str,
    *,
    query_vector: QueryVector | None = None,
    mode: SearchMode = SearchMode.HYBRID,
    transcript_ids: Sequence[UUID] | None = None,
    limit: int = 10,
    ranking: Ranking | None = None,
    exact_syntax: bool = False,
) -> Retrieval:
    """The user's passages that answer the question, best first, and whether any does. With
    `exact_syntax` (search), quotes and -words ask for exactly those words; in a question to
    answer (chat, drafts) they are a person's punctuation: `what is the "village snoop"?`
    must not require every word of the question in one passage."""
    ranking = ranking or Ranking()
    strict = (
        exact_syntax and mode is not SearchMode.SEMANTIC and bool(WEBSEARCH_SYNTAX.search(question))
    )
    # The vector used may be an earlier model's, while the new model's are embedded.
    candidates, words, query_vector = await find_candidates(
        session, user_id, question, query_vector, mode, transcript_ids, strict=strict
    )
    used = mode if any(c.similarity is not None for c in candidates) else SearchMode.LEXICAL
    if mode is SearchMode.SEMANTIC and used is SearchMode.LEXICAL:
        candidates, used = [], SearchMode.SEMANTIC  # no vectors: nothing found by meaning
    background = query_vector.background if query_vector is not None else None
    by_language = background.by_language if background is not None else {}
    best_rank = _best_rank(candidates)
    passages = sorted(
        (
            _scored(c, used, ranking, best_rank, language_shift(by_language, c.hit.language))
            for c in candidates
        ),
        key=lambda ranked: (-ranked.score, ranked.hit.transcript_id, ranked.hit.chunk_index),
    )
    scored = _best_passage_per_chunk(passages)
    listed = [ranked for ranked in scored if _listed(ranked, ranking)]
    top = _top(listed, limit, ranking) if listed else []
    everyday_level = background.everyday_level if background is not None else None
    # Quotes and -words ask for exactly those words: whatever matches them is relevant.
    answerable = bool(top) and (strict or _answers(top[0], used, ranking, everyday_level))
    return Retrieval(used, top, answerable, ranking, passages, words)


def _best_passage_per_chunk(scored: Sequence[RankedHit]) -> list[RankedHit]:
    """A chunk scores by its best passage: the first of each chunk in `scored`, best first."""
    seen: set[UUID] = set()
    best = []
    for ranked in scored:
        if ranked.hit.chunk_id not in seen:
            seen.add(ranked.hit.chunk_id)
            best.append(ranked)
    return best


def _best_rank(candidates: Sequence[Candidate]) -> float:
    return max((c.hit.rank for c in candidates), default=0.0)


def language_shift(background_by_language: Mapping[str, float], language: str | None) -> float:
    """What a passage in `language` loses in similarity to the question for its language alone:
    the question's closeness to everyday paragraphs in that language, less its closeness to the
    same paragraphs in the language it comes closest to. 0 for a language without them."""
    if language is None or language not in background_by_language:
        return 0.0
    return background_by_language[language] - max(background_by_language.values())


def _scored(
    candidate: Candidate, mode: SearchMode, ranking: Ranking, best_rank: float, shift: float
) -> RankedHit:
    hit = candidate.hit
    relative_rank = hit.rank / best_rank if best_rank > 0 else 0.0
    lexical = ranking.coverage_weight * hit.coverage + ranking.rank_weight * relative_rank
    if candidate.similarity is not None and mode is not SearchMode.LEXICAL:
        meaning = candidate.similarity - shift
        score = meaning if mode is SearchMode.SEMANTIC else meaning + lexical
    elif mode is SearchMode.SEMANTIC:
        score = 0.0
    else:
        score = hit.coverage + ranking.lexical_rank_weight * relative_rank
    return RankedHit(hit, candidate.similarity, score, shift)


def _listed(ranked: RankedHit, ranking: Ranking) -> bool:
    if ranked.hit.coverage >= ranking.keep_lexical_coverage:
        return True
    if ranked.similarity is not None:
        return ranked.similarity >= ranking.listed_similarity
    return ranked.hit.matched_terms > 0


def _top(scored: Sequence[RankedHit], limit: int, ranking: Ranking) -> list[RankedHit]:
    top = list(scored[:limit])
    lexical = max(scored, key=lambda ranked: ranked.hit.rank)
    sure = lexical.hit.rank > 0 and lexical.hit.coverage >= ranking.keep_lexical_coverage
    if sure and lexical not in top:
        top = [*top[: limit - 1], lexical]
    return top


def _answers(
    best: RankedHit, mode: SearchMode, ranking: Ranking, everyday_level: float | None
) -> bool:
    if best.similarity is not None:
        meaning = best.similarity - best.language_shift
        stands_out = everyday_level is None or (
            meaning - everyday_level + _shared_words(best.hit, ranking) >= ranking.min_margin
        )
        return best.similarity >= ranking.min_similarity and stands_out
    return mode is not SearchMode.SEMANTIC and best.hit.coverage >= ranking.min_coverage


def holds_its_words(hit: ChunkHit, ranking: Ranking) -> bool:
    """Whether the passage holds (nearly) every word of the question (full-text matches)."""
    return hit.matched_terms > 0 and hit.coverage >= ranking.every_word_coverage


def _shared_words(hit: ChunkHit, ranking: Ranking) -> float:
    """What the question's words the passage holds count in its margin: against it when they
    may be a coincidence, for it when it holds (nearly) all of two or more."""
    if hit.query_terms >= 2 and holds_its_words(hit, ranking):
        return ranking.shared_words_discount
    return -ranking.shared_words_discount * hit.coverage
