"""What talking to your videos costs: 1. a 3-hour video ingested three times, where the time
goes; 2. `retrieve(limit=10)` over 165,000 chunks of two users: fifty queries by kind, the
slowest with EXPLAIN and its matching and ranking apart; 3. an offline chat round trip, step by
step, 50 questions about the labelled talks; 4. hit@5 on the labelled set against its floor.
About 30 s on two idle cores:

    cd backend && .venv/bin/python -m benchmarks.talk
"""

import itertools
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncGenerator, Sequence

import asyncpg
from rich.table import Table

from app.core.config import Settings
from app.db.repositories import ConversationRepository
from app.services.chat import answer, start_turn
from app.services.chunking import Segment
from app.services.extract import Passage
from app.services.llm import ChatMessage, Completion, OfflineExtractiveModel, StreamEvent
from app.services.retrieval import SearchMode, retrieve
from app.services.transcripts import NewTranscript, store_transcript
from benchmarks.harness import database as db
from benchmarks.harness import ingestion, report, search
from benchmarks.harness.corpus import Corpus, load_corpus
from benchmarks.harness.machine import Clock, run_benchmark
from benchmarks.harness.search import SEARCH_LIMIT, ModeTiming, Sample
from benchmarks.harness.timing import median, timed
from testkit.labelled_set import CHUNK_TOKENS, HIT_AT_5_FLOOR, QUESTIONS, TALKS, answers

PASSES, SLOWEST_SHOWN, CHAT_TURNS = 3, 5, 50
LABELLED_OVERLAP = 0.2  # the talks are chunked as tests/api/test_search.py chunks them
# The slowest query's SQL without retrieve's extras (headlines, coverage, the join), to tell
# finding the matches from ranking them.
FIND = "FROM passages p, q WHERE p.user_id = $1 AND p.search_vector @@ q.tsq"
RANKING_STEPS = {
    "find the matches only: count(*)": f"SELECT count(*) {FIND}",
    "find them, rank by ts_rank (as retrieve does), keep 10":
        f"SELECT p.id {FIND} ORDER BY ts_rank(p.search_vector, q.tsq) DESC LIMIT 10",
    "find them, rank by ts_rank_cd (cover density), keep 10":
        f"SELECT p.id {FIND} ORDER BY ts_rank_cd(p.search_vector, q.tsq) DESC LIMIT 10",
}  # fmt: skip
Printed = list[Table | str]


def median_ms(samples: Sequence[Sample]) -> float:
    return search.median_seconds(samples) * 1000


async def count_matches(pool: asyncpg.Pool, user_id: uuid.UUID, text: str) -> tuple[int, str]:
    """How many of the user's passages the query matched, and in which reading: retrieve falls
    back to "any" word when no passage has them all."""
    for reading in ("all", "any"):
        if matched := await search.count_matching(pool, user_id, text, reading):
            break
    return matched, reading


async def search_report(bench: db.Bench) -> Printed:
    """Tables 2a to 2d, then the slowest query taken apart."""
    corpus, pool = await load_corpus(bench.pool, bench.settings.tokenizer_encoding), bench.pool
    queries, users = search.search_queries(), {"owner": corpus.owner, "second user": corpus.other}
    timings = [
        await search.time_mode(bench.sessions, ModeTiming(label, SearchMode.HYBRID), user_id,
                               queries, {}, corpus.transcript_ids(user_id), passes=PASSES)
        for label, user_id in users.items()
    ]  # fmt: skip
    owner, other = (timing.by_query() for timing in timings)
    matched = {text: await count_matches(pool, corpus.owner, text) for text in owner}
    ranked = sorted(owner, key=lambda text: median_ms(owner[text]), reverse=True)
    slowest = ranked[0]
    chunks = (corpus.owner_chunks, corpus.chunks - corpus.owner_chunks)
    by_kind: dict[str, list[str]] = defaultdict(list)
    for text, samples in owner.items():
        by_kind[samples[0].query.kind].append(text)
    printed: Printed = [corpus.load_table(), report.table(
        f"2b. retrieve(limit={SEARCH_LIMIT}) latency, 50 queries x {PASSES} passes",
        ("user", "chunks", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean ms"),
        [[timing.label, f"{count:,}", str(len(timing.seconds)), *report.percentiles(timing.seconds),
          report.ms(statistics.fmean(timing.seconds))]
         for timing, count in zip(timings, chunks, strict=True)],
        caption="A session per query (BEGIN, the search or two, ROLLBACK), after a warm-up "
        "pass. Every hit was checked to be the searching user's own.",
    ), report.table(
        "2c. By kind of query (the owner; median of each query's timed passes)",
        ("kind", "queries", "median ms", "max ms", "matched passages (median)", "reading"),
        [[kind, str(len(texts)), f"{median([median_ms(owner[t]) for t in texts]):.1f}",
          f"{max(median_ms(owner[t]) for t in texts):.1f}",
          f"{median([matched[t][0] for t in texts]):,.0f}",
          ", ".join(sorted({matched[t][1] for t in texts}))]
         for kind, texts in by_kind.items()],
    ), report.table(
        f"2d. The {SLOWEST_SHOWN} slowest queries (owner)",
        ("query", "kind", "median ms", "second user ms", "hits", "matched", "reading"),
        [[text, owner[text][0].query.kind, f"{median_ms(owner[text]):.1f}",
          f"{median_ms(other[text]):.1f}", str(owner[text][-1].hits), f"{matched[text][0]:,}",
          matched[text][1]] for text in ranked[:SLOWEST_SHOWN]],
        caption='reading "any": no chunk had every word, so retrieve searched again for any.',
    )]  # fmt: skip
    return printed + await slowest_taken_apart(bench, corpus, slowest, matched[slowest],
                                               median_ms(owner[slowest]))  # fmt: skip


async def slowest_taken_apart(
    bench: db.Bench, corpus: Corpus, slowest: str, matched: tuple[int, str], retrieve_ms: float
) -> Printed:
    """2e, the plans of the slowest query for both users; 2f, its matching and ranking timed
    apart (the reading retrieve used, median of 3 warm runs)."""
    users = {"owner": corpus.owner, "second user": corpus.other}
    printed: Printed = [
        f"2e. EXPLAIN (ANALYZE, BUFFERS) of the slowest query, {slowest!r}, with the SQL and "
        "parameters retrieve sent (a second run: caches warm):"
    ]
    plans = {}
    for label, user_id in users.items():
        plans[label] = await search.explain_statements(
            bench, search.hybrid_call(user_id, slowest, None),  # retrieve's defaults
            marker="ts_headline", label=lambda s: "all" if "websearch_to_tsquery" in s else "any",
        )  # fmt: skip
        for plan in plans[label]:
            gin = "used" if "ix_passages_search_vector" in plan.indexes else "NOT used"
            printed.append(f'  {label}, reading "{plan.reading}": {plan.execution}; GIN index '
                           f"{gin}; indexes: {', '.join(plan.indexes)}")  # fmt: skip
    ranking = plans["owner"][-1]
    printed.append(
        f'The owner\'s "{ranking.reading}" plan, from the Limit of the CTE that finds and ranks:'
    )
    printed += ranking.ranking()
    tsquery = search.MATCH_ALL if matched[1] == "all" else search.MATCH_ANY
    steps = []
    for label, step in RANKING_STEPS.items():
        statement = f"WITH q AS (SELECT {tsquery} AS tsq) {step}"
        query = (statement, corpus.owner, slowest)
        runs = [(await timed(bench.pool.fetch(*query)))[1] for _ in range(4)]
        steps.append([label, report.ms(median(runs[1:]))])  # warm: the first left out
    steps.append(["retrieve() as timed in 2d (+ headlines, coverage, join)", f"{retrieve_ms:.1f}"])
    return [*printed, report.table(
        f'2f. The slowest query taken apart (owner, reading "{matched[1]}", '
        f"{matched[0]:,} matching passages)", ("step", "ms"), steps,
        caption="Raw asyncpg, the same WHERE as retrieve; median of 3 after a warm-up.",
    )]  # fmt: skip


# --- 3. and 4. the offline chat, hit@5 ---------------------------------------------------------


class TimedModel:
    """OfflineExtractiveModel, with the time its last completion took."""

    def __init__(self, settings: Settings) -> None:
        self.inner = OfflineExtractiveModel(settings)
        self.provider, self.model = self.inner.provider, self.inner.model
        self.extractive, self.seconds = self.inner.extractive, 0.0

    async def complete(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> Completion:
        completion, self.seconds = await timed(self.inner.complete(messages, passages))
        return completion

    def stream(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> AsyncGenerator[StreamEvent, None]:
        return self.inner.stream(messages, passages)


async def round_trip(
    sessions: db.Sessions, settings: Settings, model: TimedModel, user_id: uuid.UUID,
    conversation_id: uuid.UUID, question: str, steps: dict[str, list[float]],
) -> bool:  # fmt: skip
    """One question as the messages endpoint handles it, in one unit of work, step by step;
    whether its answer was grounded."""
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
    model_seconds = model.seconds if turn.grounded else 0.0
    for step, seconds in (
        ("round trip", marks[-1] - marks[0]),
        ("load the conversation", load),
        ("start_turn: history, store the question, retrieve", starting),
        ("answer", answering),
        ("  the offline model", model_seconds),
        ("  storing the answer and its usage", answering - model_seconds),
        ("commit", commit),
    ):
        steps[step].append(seconds)
    return turn.grounded


async def chat_report(bench: db.Bench, settings: Settings) -> Printed:
    """The labelled talks for a new user, CHAT_TURNS questions to them, then hit@5."""
    sessions, user_id = bench.sessions, await db.new_user(bench.pool)
    async with db.units_of_work(sessions)() as session:
        for talk in TALKS:
            segments = [Segment(str(s["text"]), float(s["start"]), float(s["duration"]))
                        for s in talk.segments()]  # fmt: skip
            new = NewTranscript(video_id=talk.video_id, segments=segments, title=talk.title)
            await store_transcript(session, user_id, new, settings)
        conversations = ConversationRepository(session)
        warm_up, conversation = [(await conversations.create(user_id=user_id)).id for _ in "ab"]
    model, steps = TimedModel(settings), defaultdict[str, list[float]](list)
    await round_trip(
        sessions, settings, model, user_id, warm_up, QUESTIONS[0].text, defaultdict(list)
    )
    grounded = 0
    for question in itertools.islice(itertools.cycle(QUESTIONS), CHAT_TURNS):
        grounded += await round_trip(
            sessions, settings, model, user_id, conversation, question.text, steps
        )
        async with sessions() as session:
            limit = settings.chat_context_chunks
            _, seconds = await timed(retrieve(session, user_id, question.text, limit=limit))
        steps["retrieval alone"].append(seconds)
    misses = []
    for question in QUESTIONS:
        async with sessions() as session:
            top = (await retrieve(session, user_id, question.text, limit=5)).hits
        if not any(answers(question, r.hit.youtube_video_id, r.hit.chunk_text) for r in top):
            misses.append(question.text)
    rows: list[report.Row] = [
        [label, *report.percentiles(seconds, (0.5, 0.99)), report.ms(statistics.fmean(seconds))]
        for label, seconds in steps.items()
    ]
    score = 1 - len(misses) / len(QUESTIONS)
    return [report.table(
        f"3. Offline chat round trip: {CHAT_TURNS} questions, one conversation",
        ("step", "p50 ms", "p99 ms", "max ms", "mean ms"), [rows[0], None, *rows[1:]],
        caption="Each question a unit of work of its own. 'retrieval alone': retrieve with the "
        f"chat's settings ({settings.chat_context_chunks} chunks, lexical: no vectors), timed "
        f"separately after each turn. {grounded} of {CHAT_TURNS} answers were grounded.",
    ), f"4. hit@5 on the labelled set ({len(TALKS)} talks, {CHUNK_TOKENS}-token chunks): "
       f"{score:.2f} ({len(QUESTIONS) - len(misses)}/{len(QUESTIONS)}), floor {HIT_AT_5_FLOOR}: "
       f"{report.verdict(score >= HIT_AT_5_FLOOR)}; misses: {misses}"]  # fmt: skip


async def benchmark() -> None:
    clock = Clock()
    async with db.bench_database() as bench:
        settings, owner = bench.settings, await db.new_user(bench.pool)
        runs, tokenizer_load = await ingestion.measure_ingestion(bench, owner)
        searched = await search_report(bench)
        update = {"chunk_tokens": CHUNK_TOKENS, "chunk_overlap": LABELLED_OVERLAP}
        chat = await chat_report(bench, settings.model_copy(update=update))
    ingested = ingestion.ingestion_table(runs, settings, tokenizer_load)
    report.print_tables(ingested, *searched, *chat, clock.closing())


if __name__ == "__main__":
    run_benchmark(benchmark)
