"""Scoring retrieval on the labelled corpus (talks/ and questions.json): hit@5 per kind of
question, and how often the answerability decision is right.

A question is a hit when one of the top five passages holds most of its answer quote (chunks
are token windows: a quote may straddle two). An unanswerable question is declined when
retrieval finds nothing relevant; an answerable one is falsely declined in that case.
Used by the tests (tests/api/test_answerability.py) and by `python -m benchmarks.retrieval`.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.services.retrieval import QueryVector, Ranking, Retrieval, SearchMode, retrieve
from app.services.transcripts import NewTranscript, store_transcript
from testkit.corpus import Question, Talk

TOP = 5
ANSWER_SHARE = 0.6  # of the quote's words, in a window of the chunk
_WORD = re.compile(r"[\w']+")
SHARED_RUN = 5  # words in a row that a quote or a passage shares with the answer

TARGETS = {
    "verbatim hit@5": 0.95,
    "paraphrase hit@5": 0.85,
    "unanswerable declined": 0.90,
}
MAX_FALSE_DECLINES = 0.05


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def holds_answer(chunk_text: str, answer: str) -> bool:
    """The chunk contains most of the quote's words."""
    wanted = words(answer)
    present = set(words(chunk_text))
    return sum(word in present for word in wanted) >= ANSWER_SHARE * len(wanted) and (
        " ".join(wanted[: max(1, len(wanted) // 3)]) in " ".join(words(chunk_text))
        or " ".join(wanted[-max(1, len(wanted) // 3) :]) in " ".join(words(chunk_text))
    )


def overlaps_answer(text: str, answer: str) -> bool:
    """The text (a quoted sentence, a cited passage) says part of the answer: it shares a run
    of SHARED_RUN words in a row with the quote (all of a shorter quote)."""
    wanted, found = words(answer), words(text)
    run = min(SHARED_RUN, len(wanted))
    if run == 0:
        return False
    runs = {tuple(wanted[i : i + run]) for i in range(len(wanted) - run + 1)}
    return any(tuple(found[i : i + run]) in runs for i in range(len(found) - run + 1))


async def store_talks(
    session: AsyncSession, user_id: UUID, talks: Iterable[Talk], settings: Settings
) -> list[UUID]:
    """The talks stored as uploads are; returns their transcripts' ids."""
    ids = []
    for talk in talks:
        new = NewTranscript(video_id=talk.video_id, segments=talk.segments, title=talk.title)
        transcript, _ = await store_transcript(session, user_id, new, settings)
        ids.append(transcript.id)
    return ids


def libraries_asked(
    question: Question, talks: Sequence[Talk], library: Mapping[str, UUID]
) -> list[UUID]:
    """The users (each a library of one talk, by video id) a question is asked of: its talk's,
    or that of the talk an unanswerable one is about; else every talk's of its split."""
    talk_id = question.video_id or question.about
    if talk_id is not None:
        return [library[talk_id]]
    return [library[talk.video_id] for talk in talks if talk.split == question.split]


@dataclass(frozen=True, slots=True)
class Outcome:
    question: Question
    retrieval: Retrieval

    @property
    def hit(self) -> bool:
        answer = self.question.answer or ""
        return any(
            ranked.hit.youtube_video_id == self.question.video_id
            and holds_answer(ranked.hit.chunk_text, answer)
            for ranked in self.retrieval.hits[:TOP]
        )

    @property
    def declined(self) -> bool:
        return not self.retrieval.answerable


async def evaluate(
    session: AsyncSession,
    user_id: UUID,
    questions: Sequence[Question],
    vectors: dict[str, QueryVector | None] | None,
    mode: SearchMode,
    ranking: Ranking | None = None,
) -> list[Outcome]:
    outcomes = []
    for question in questions:
        retrieval = await retrieve(
            session,
            user_id,
            question.text,
            query_vector=vectors.get(question.text) if vectors else None,
            mode=mode,
            limit=TOP,
            ranking=ranking,
        )
        outcomes.append(Outcome(question, retrieval))
    return outcomes


def scores(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """hit@5 per answerable kind, declines of unanswerable ones (per subkind too), and false
    declines of answerable ones."""
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.question.kind].append(outcome)
    table = {}
    for kind in ("verbatim", "paraphrase", "other_language"):
        if group := by_kind[kind]:
            table[f"{kind} hit@5"] = sum(o.hit for o in group) / len(group)
    unanswerable = by_kind["unanswerable"]
    table["unanswerable declined"] = sum(o.declined for o in unanswerable) / len(unanswerable)
    for subkind in sorted({o.question.subkind or "" for o in unanswerable}):
        group = [o for o in unanswerable if o.question.subkind == subkind]
        table[f"  {subkind} declined"] = sum(o.declined for o in group) / len(group)
    answerable = by_kind["verbatim"] + by_kind["paraphrase"] + by_kind["other_language"]
    table["answerable falsely declined"] = sum(o.declined for o in answerable) / len(answerable)
    return table
