"""An offline chat round trip, step by step, and hit@5, with the table that shows them: the
labelled talks (testkit/labelled_set.py) stored for a new user, then CHAT_TURNS questions into
one conversation, each a unit of work as the messages endpoint runs it (load the conversation,
`start_turn`, `answer` with `OfflineExtractiveModel`, commit), `retrieve` with the chat's
settings timed alone after each; then hit@5 of `retrieve(..., limit=5)` on the labelled set."""

import itertools
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

import asyncpg
from rich.table import Table

from app.core.config import Settings
from app.db.repositories import ConversationRepository
from app.services.chat import answer, start_turn
from app.services.chunking import Segment
from app.services.extract import Passage
from app.services.llm import ChatMessage, Completion, OfflineExtractiveModel, StreamEvent
from app.services.retrieval import retrieve
from app.services.transcripts import NewTranscript, store_transcript
from benchmarks.harness import database as db
from benchmarks.harness import report
from benchmarks.harness.timing import timed
from testkit.labelled_set import QUESTIONS, TALKS, Talk, answers

CHAT_TURNS = 50


class TimedModel:
    """OfflineExtractiveModel, with the time its completions took."""

    def __init__(self, settings: Settings) -> None:
        self.inner = OfflineExtractiveModel(settings)
        self.provider, self.model = self.inner.provider, self.inner.model
        self.extractive = self.inner.extractive
        self.seconds: list[float] = []

    async def complete(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> Completion:
        started = time.perf_counter()
        completion = await self.inner.complete(messages, passages)
        self.seconds.append(time.perf_counter() - started)
        return completion

    def stream(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> AsyncGenerator[StreamEvent, None]:
        return self.inner.stream(messages, passages)


def talk_transcript(talk: Talk) -> NewTranscript:
    segments = [
        Segment(str(s["text"]), float(s["start"]), float(s["duration"])) for s in talk.segments()
    ]
    return NewTranscript(video_id=talk.video_id, segments=segments, title=talk.title)


@dataclass
class ChatResults:
    steps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    grounded: int = 0
    hits_at_5: int = 0
    misses: list[str] = field(default_factory=list)


async def round_trip(
    sessions: db.Sessions,
    settings: Settings,
    model: TimedModel,
    conversation: tuple[uuid.UUID, uuid.UUID],
    question: str,
    results: ChatResults,
) -> None:
    """One question as the messages endpoint handles it, in one unit of work, step by step."""
    user_id, conversation_id = conversation
    marks = [time.perf_counter()]
    async with db.units_of_work(sessions)() as session:
        loaded = await ConversationRepository(session).get_for_user(conversation_id, user_id)
        assert loaded is not None
        marks.append(time.perf_counter())
        turn = await start_turn(session, loaded, question, None, settings)
        marks.append(time.perf_counter())
        await answer(session, turn, model)
        marks.append(time.perf_counter())
    marks.append(time.perf_counter())
    load, starting, answering, commit = (end - begin for begin, end in itertools.pairwise(marks))
    model_seconds = model.seconds[-1] if turn.grounded else 0.0
    for step, seconds in (
        ("round trip", marks[-1] - marks[0]),
        ("load the conversation", load),
        ("start_turn: history, store the question, retrieve", starting),
        ("answer", answering),
        ("  the offline model", model_seconds),
        ("  storing the answer and its usage", answering - model_seconds),
        ("commit", commit),
    ):
        results.steps[step].append(seconds)
    results.grounded += turn.grounded


async def measure_chat(
    sessions: db.Sessions, settings: Settings, pool: asyncpg.Pool
) -> ChatResults:
    """The labelled talks for a new user, CHAT_TURNS questions to them, then hit@5."""
    user_id = await db.new_user(pool)
    async with db.units_of_work(sessions)() as session:
        for talk in TALKS:
            await store_transcript(session, user_id, talk_transcript(talk), settings)
        conversations = ConversationRepository(session)
        warm_up = (user_id, (await conversations.create(user_id=user_id)).id)
        conversation = (user_id, (await conversations.create(user_id=user_id)).id)
    model, results = TimedModel(settings), ChatResults()
    await round_trip(sessions, settings, model, warm_up, QUESTIONS[0].text, ChatResults())
    for question in itertools.islice(itertools.cycle(QUESTIONS), CHAT_TURNS):
        await round_trip(sessions, settings, model, conversation, question.text, results)
        async with sessions() as session:
            limit = settings.chat_context_chunks
            _, seconds = await timed(retrieve(session, user_id, question.text, limit=limit))
        results.steps["retrieval alone"].append(seconds)
    for question in QUESTIONS:
        async with sessions() as session:
            top = (await retrieve(session, user_id, question.text, limit=5)).hits
        if any(answers(question, r.hit.youtube_video_id, r.hit.chunk_text) for r in top):
            results.hits_at_5 += 1
        else:
            results.misses.append(question.text)
    return results


def chat_table(results: ChatResults, settings: Settings) -> Table:
    turns = len(results.steps["round trip"])
    rows: list[list[str] | None] = [
        [label, *(f"{report.percentile_ms(seconds, q):.1f}" for q in (0.5, 0.99)),
         report.ms(max(seconds)), report.ms(statistics.fmean(seconds))]
        for label, seconds in results.steps.items()
    ]  # fmt: skip
    return report.table(
        f"3. Offline chat round trip: {turns} questions, one conversation",
        ("step", "p50 ms", "p99 ms", "max ms", "mean ms"),
        [rows[0], None, *rows[1:]],
        caption="Each question a unit of work of its own. 'retrieval alone': retrieve with the "
        f"chat's settings ({settings.chat_context_chunks} chunks, lexical: no vectors), timed "
        f"separately after each turn. {results.grounded} of {turns} answers were grounded.",
    )
