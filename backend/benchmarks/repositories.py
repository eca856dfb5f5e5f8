"""The repository layer next to raw asyncpg running the same SQL, and where the difference goes:
ops/s at concurrency 1 and 10 of a login's write, `get_by_id` and `get_last_n(20)` in the app's
two session configurations (the targets on the API's read path, `read_only`); chunks/s of
`create_many` against asyncpg's executemany and COPY on the head schema and on revision 0015
(with `chunks.search_vector`). The sides take turns in short slices, each rated by its median
slice. About a minute and a half:

    cd backend && .venv/bin/python -m benchmarks.repositories
"""

import asyncio
import random
import string
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import repositories as repos
from app.db.models import User
from app.db.repositories import NewChunk
from app.db.repositories.hot import primary_key_read
from benchmarks.harness import database as db
from benchmarks.harness import report
from benchmarks.harness.load import Operation, median_rate, rates_in_turns
from benchmarks.harness.machine import Clock, run_benchmark
from benchmarks.harness.timing import timed

CONCURRENCIES = (1, 10)
POOL_SIZE = max(CONCURRENCIES)
MEASURE_SECONDS, MEASURE_MAX_OPS, SLICES = 2.4, 40_000, 8  # per side and measurement
WARMUP_SECONDS, WARMUP_OPS_PER_TASK = 0.3, 30
SEEDED_USERS, CONVERSATION_MESSAGES, LAST_N = 10_000, 10_000, 20
CHUNKS_PER_ROUND, CHUNK_TEXT_BYTES, CHUNK_WARMUP_ROUNDS, CHUNK_MAX_ROUNDS = 1_000, 1_000, 1, 20
READ_MIN_RATIO = {1: 0.6, 10: 0.4}  # on the path the API reads by (read_only)
CREATE_MANY_MIN_CHUNKS_PER_SECOND = 20_000
OLD_REVISION = "0015"  # the last revision with chunks.search_vector
HEAD_SCHEMA, OLD_SCHEMA = SCHEMAS = ("head: without search_vector", "0015: with")
APP_DEFAULTS, READ_ONLY = "app defaults", "read_only"
INSERT_SESSION = (
    "INSERT INTO sessions (user_id, token_hash, expires_at) VALUES ($1, $2, $3) RETURNING *"
)
# Words of 3 to 9 random letters: many distinct lexemes, as in real transcripts (the cost of a
# GIN index grows with them, which a repeated filler would hide).
_LETTERS = random.Random(0)
LETTER_WORDS = [
    "".join(_LETTERS.choices(string.ascii_lowercase, k=_LETTERS.randint(3, 9)))
    for _ in range(5_000)
]

# (operation, configuration: session kind or schema, concurrency, asyncpg baseline) -> the
# repository's and asyncpg's ops/s
Key = tuple[str, str, int, str]
Rates = dict[Key, tuple[float, float]]
Work = Callable[[AsyncSession], Awaitable[object]]


@asynccontextmanager
async def session_kinds(database_url: str, pool_size: int) -> AsyncIterator[dict[str, db.Sessions]]:
    """The app's two ways of opening a session, app defaults first, each on an engine (so a pool)
    of its own."""
    settings = db.bench_settings(database_url, pool_size, db_pool_pre_ping=True)
    async with (
        db.app_engine(settings) as engine,
        db.app_engine(settings, autocommit=True) as read_only,
    ):
        yield {APP_DEFAULTS: db.session_maker(engine), READ_ONLY: db.session_maker(read_only)}


def in_session(kind: str, sessions: db.Sessions, work: Work) -> Operation:
    """`work` in a session of its own, committed in the app defaults (unit_of_work's contract)."""

    async def operation() -> None:
        async with sessions() as session:
            await work(session)
            if kind == APP_DEFAULTS:
                await session.commit()

    return operation


async def statements_around_a_read(database_url: str, user_id: uuid.UUID) -> dict[str, list[str]]:
    """Per session kind, the statements asyncpg's query logger sees during one get_by_id on a
    connection already in use (it logs simple queries, not the prepared SELECT): the round trips
    a session adds to the query."""
    seen: list[str] = []
    user_read = primary_key_read(User)
    own_query = user_read.read.sql if user_read is not None else ""

    def log_queries(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(lambda query: seen.append(query.query))

    statements = {}
    async with session_kinds(database_url, pool_size=1) as kinds:
        for kind, sessions in kinds.items():
            event.listen(sessions.kw["bind"].pool, "connect", log_queries)
            get_user = in_session(
                kind, sessions, lambda s: repos.UserRepository(s).get_by_id(user_id)
            )
            await get_user()  # connects, prepares; a fresh connection is not pinged
            seen.clear()
            await get_user()
            await asyncio.sleep(0)  # the logger runs from the event loop, after the query
            # The lookup itself is logged too when it goes straight to asyncpg (a HotRead).
            statements[kind] = [query for query in seen if query != own_query]
    return statements


async def seed(pool: asyncpg.Pool) -> tuple[list[uuid.UUID], uuid.UUID]:
    """Users to look up and one long conversation, written by COPY to keep setup short."""
    user_ids = [uuid.uuid4() for _ in range(SEEDED_USERS)]
    async with pool.acquire() as connection:
        await connection.copy_records_to_table(
            "users",
            records=[(user_id, db.unique_email(), db.PASSWORD_HASH) for user_id in user_ids],
            columns=("id", "email", "password_hash"),
        )
        conversation_id = await connection.fetchval(
            "INSERT INTO conversations (user_id, title) VALUES ($1, 'bench') RETURNING id",
            user_ids[0],
        )
        # At COPY speed clock_timestamp() moves by a microsecond or less per row, so rows could
        # tie; timestamps a second apart make the order, and so the last n, well defined.
        first = datetime.now(UTC) - timedelta(days=30)
        messages = [
            (conversation_id, "user" if n % 2 == 0 else "assistant",
             f"Message {n}: " + "what the video says about this part " * 8,
             first + timedelta(seconds=n))
            for n in range(CONVERSATION_MESSAGES)
        ]  # fmt: skip
        await connection.copy_records_to_table(
            "messages",
            records=messages,
            columns=("conversation_id", "role", "content", "created_at"),
        )
        await connection.execute("ANALYZE")  # so the planner reads the last n from the index
    return user_ids, conversation_id


async def compare(
    rates: Rates, operation: str, sides: dict[str, Operation], raw: Operation
) -> None:
    """At every concurrency, each repository configuration's ops/s and asyncpg's, in turns."""
    found = {}
    for concurrency in CONCURRENCIES:
        # The warm-up opens the pool's connections and fills the prepared-statement caches.
        warm_up = (WARMUP_OPS_PER_TASK * concurrency, WARMUP_SECONDS)
        budget = (MEASURE_MAX_OPS, MEASURE_SECONDS)
        *side_rates, baseline = await rates_in_turns(
            [*sides.values(), raw], concurrency, SLICES, budget, warm_up
        )
        for label, rate in zip(sides, side_rates, strict=True):
            found[operation, label, concurrency, ""] = (rate, baseline)
    rates.update(sorted(found.items(), key=lambda item: list(sides).index(item[0][1])))


async def measure_reads(
    rates: Rates, kinds: dict[str, db.Sessions], pool: asyncpg.Pool, user_ids: list[uuid.UUID],
    conversation_id: uuid.UUID,
) -> None:  # fmt: skip
    owner_id = user_ids[0]

    def expiry() -> datetime:
        return datetime.now(UTC) + timedelta(hours=1)

    async def raw_last_messages() -> None:
        list(reversed(await pool.fetch(db.SELECT_LAST_MESSAGES, conversation_id, LAST_N)))

    users, messages, sessions = (
        repos.UserRepository,
        repos.MessageRepository,
        repos.SessionRepository,
    )
    reads: list[tuple[str, Sequence[str], Work, Operation]] = [
        # A write needs its transaction: the app defaults only.
        ("create", [APP_DEFAULTS],
         lambda s: sessions(s).create(user_id=owner_id, token_hash=uuid.uuid4().hex,
                                      expires_at=expiry()),
         lambda: pool.fetchrow(INSERT_SESSION, owner_id, uuid.uuid4().hex, expiry())),
        ("get_by_id", list(kinds), lambda s: users(s).get_by_id(random.choice(user_ids)),
         lambda: pool.fetchrow("SELECT * FROM users WHERE id = $1", random.choice(user_ids))),
        ("get_last_n", list(kinds), lambda s: messages(s).get_last_n(conversation_id, LAST_N),
         raw_last_messages),
    ]  # fmt: skip
    for operation, labels, work, raw in reads:
        sides = {kind: in_session(kind, kinds[kind], work) for kind in labels}
        await compare(rates, operation, sides, raw)


async def chunk_batch(pool: asyncpg.Pool, owner_id: uuid.UUID) -> list[NewChunk]:
    """CHUNKS_PER_ROUND chunks of about 1 KB of a new transcript."""
    transcript_id = await pool.fetchval(
        "INSERT INTO transcripts (user_id, youtube_video_id, transcript_text) "
        "VALUES ($1, $2, 'bench') RETURNING id",
        owner_id, uuid.uuid4().hex[:11],
    )  # fmt: skip
    texts = (" ".join(random.choices(LETTER_WORDS, k=CHUNK_TEXT_BYTES // 4))[:CHUNK_TEXT_BYTES]
             for _ in range(CHUNKS_PER_ROUND))  # fmt: skip
    return [NewChunk(transcript_id, owner_id, index, text, CHUNK_TEXT_BYTES // 4)
            for index, text in enumerate(texts)]  # fmt: skip


def chunk_inserts(
    sessions: db.Sessions, pool: asyncpg.Pool
) -> list[Callable[[list[NewChunk]], Awaitable[object]]]:
    """The repository's create_many and commit, asyncpg's executemany (atomic: one implicit
    transaction) and its COPY."""

    async def repository(chunks: list[NewChunk]) -> None:
        async with sessions() as session:
            await repos.ChunkRepository(session).create_many(chunks)
            await session.commit()

    async def copy(chunks: list[NewChunk]) -> None:
        records = [db.chunk_record(chunk) for chunk in chunks]
        async with pool.acquire() as connection:
            await connection.copy_records_to_table(
                "chunks", records=records, columns=db.CHUNK_COLUMNS
            )

    return [
        repository,
        lambda chunks: pool.executemany(db.INSERT_CHUNK, [db.chunk_record(c) for c in chunks]),
        copy,
    ]


async def measure_create_many(
    rates: Rates, databases: Sequence[tuple[str, asyncpg.Pool, uuid.UUID, db.Sessions]]
) -> None:
    """Rounds over every schema in turn, one 1,000-chunk batch per way of inserting, each into a
    new transcript (only the insert and its commit timed), until each way has had
    MEASURE_SECONDS or CHUNK_MAX_ROUNDS rounds (the fast ways on the old schema would take
    hundreds)."""
    inserts = [chunk_inserts(sessions, pool) for _, pool, _, sessions in databases]
    slices: list[list[list[tuple[int, float]]]] = [[[], [], []] for _ in databases]
    for round_ in range(CHUNK_WARMUP_ROUNDS + CHUNK_MAX_ROUNDS):
        for (_, pool, owner_id, _), ways, done in zip(databases, inserts, slices, strict=True):
            for insert, way in zip(ways, done, strict=True):
                batch = await chunk_batch(pool, owner_id)
                _, seconds = await timed(insert(batch))
                if round_ >= CHUNK_WARMUP_ROUNDS:
                    way.append((len(batch), seconds))
        spent = min(sum(s for _, s in way) for done in slices for way in done)
        if round_ >= CHUNK_WARMUP_ROUNDS and spent >= MEASURE_SECONDS:
            break
    for (schema, *_), done in zip(databases, slices, strict=True):
        repository, executemany, copy = (median_rate(way) for way in done)
        rates["create_many", schema, 1, "executemany"] = (repository, executemany)
        rates["create_many", schema, 1, "COPY"] = (repository, copy)


def print_report(rates: Rates, statements: dict[str, list[str]], clock: Clock) -> None:
    rows = [
        [f"{operation} [{configuration}]" + (f" vs {baseline}" if baseline else ""),
         str(concurrency), f"{repository:,.0f}", f"{raw:,.0f}", f"{repository / raw:.2f}"]
        for (operation, configuration, concurrency, baseline), (repository, raw) in rates.items()
    ]  # fmt: skip
    report.print_tables(report.table(
        "Repository layer vs raw asyncpg (ratio = repository / asyncpg)",
        ("operation [configuration]", "concurrency", "repository ops/s", "asyncpg ops/s", "ratio"),
        rows, caption=f"{clock.closing()} create_many in chunks/s.",
    ), *targets(rates), "", explanation(rates, statements))  # fmt: skip


def created(rates: Rates, schema: str, baseline: str = "") -> float:
    """The repository's chunks/s on `schema`; with `baseline`, that asyncpg way's."""
    repository, raw = rates["create_many", schema, 1, baseline or "COPY"]
    return raw if baseline else repository


def targets(rates: Rates) -> list[str]:
    lines = ["Targets:"]
    for operation in ("get_by_id", "get_last_n"):
        for concurrency, minimum in READ_MIN_RATIO.items():
            repository, raw = rates[operation, READ_ONLY, concurrency, ""]
            lines.append(
                f"- {operation} [{READ_ONLY}] at concurrency {concurrency} >= {minimum}x "
                f"asyncpg: {report.verdict(repository / raw >= minimum)} ({repository / raw:.2f})"
            )
    minimum, rate = CREATE_MANY_MIN_CHUNKS_PER_SECOND, {s: created(rates, s) for s in SCHEMAS}
    verdicts = [f"[{s}] {report.verdict(rate[s] >= minimum)} ({rate[s]:,.0f})" for s in SCHEMAS]
    return [*lines, f"- create_many >= {minimum:,} chunks/s: " + ", ".join(verdicts)]


def explanation(rates: Rates, statements: dict[str, list[str]]) -> str:
    """Where the time goes, in figures from this run."""

    def breakdown(operation: str, built: str) -> str:
        """Time per call at concurrency 1, where calls do not overlap."""
        app, read_only = (
            1e6 / rates[operation, kind, 1, ""][0] for kind in (APP_DEFAULTS, READ_ONLY)
        )
        raw = 1e6 / rates[operation, APP_DEFAULTS, 1, ""][1]
        return (
            f"{operation} took {app:,.0f} µs per call with the app defaults, {read_only:,.0f} µs "
            f"in read_only (the transaction and the ping: {app - read_only:,.0f} µs), against "
            f"{raw:,.0f} µs through asyncpg, whose call is its one round trip; the "
            f"{read_only - raw:,.0f} µs left are SQLAlchemy's work in Python around the same "
            f"asyncpg call: opening and closing the session, its connection checkout, and {built}"
        )

    sent = "; ".join(
        f"[{kind}] " + (", ".join("';' (the ping)" if q.strip() == ";" else q.strip().rstrip(";")
                                  for q in queries) or "none")
        for kind, queries in statements.items()
    )  # fmt: skip

    def chunks(schema: str, baseline: str = "") -> str:
        return f"{created(rates, schema, baseline):,.0f}"

    return (
        "Where the time goes. Round trips a session adds to the query, as asyncpg logged them "
        f"around one get_by_id: {sent}. The transaction and the pre-ping add "
        f"{len(statements[APP_DEFAULTS]) - len(statements[READ_ONLY])}; read_only sessions have "
        "neither. At concurrency 1, calls one after the other: "
        f"{breakdown('get_by_id', 'making the User from the row and adding it to the session')}; "
        f"{breakdown('get_last_n', f'{LAST_N} plain rows (MessageRow)')}. "
        "At concurrency 10 one task's round trips overlap with the others' Python work on "
        "the two cores, so that work, more than the waiting, sets the ratio there. "
        "create_many: on 0015 PostgreSQL computed to_tsvector('english', chunk_text) for "
        "every row inserted and added its lexemes to the GIN index on search_vector, which no "
        f"client can skip: asyncpg reaches {chunks(OLD_SCHEMA, 'executemany')} chunks/s "
        f"with executemany and {chunks(OLD_SCHEMA, 'COPY')} with COPY there, against "
        f"{chunks(HEAD_SCHEMA, 'executemany')} and {chunks(HEAD_SCHEMA, 'COPY')} on "
        f"the head schema without the column; the repository's {chunks(OLD_SCHEMA)} and "
        f"{chunks(HEAD_SCHEMA)} chunks/s add building the rows in Python and passing them "
        "through the ORM's bulk insert (no RETURNING)."
    )


async def benchmark() -> None:
    clock, server, rates = Clock(), db.server_url(), Rates()
    async with (
        db.throwaway_database(server) as database_url,
        session_kinds(database_url, POOL_SIZE) as kinds,
        db.asyncpg_pool(database_url, POOL_SIZE) as pool,
    ):
        user_ids, conversation_id = await seed(pool)
        statements = await statements_around_a_read(database_url, user_ids[0])
        await measure_reads(rates, kinds, pool, user_ids, conversation_id)
        async with (
            db.throwaway_database(server, OLD_REVISION) as old_url,
            db.app_engine(db.bench_settings(old_url, POOL_SIZE)) as old_engine,
            db.asyncpg_pool(old_url, POOL_SIZE) as old_pool,
        ):
            await measure_create_many(rates, [
                (HEAD_SCHEMA, pool, user_ids[0], kinds[APP_DEFAULTS]),
                (OLD_SCHEMA, old_pool, await db.new_user(old_pool), db.session_maker(old_engine)),
            ])  # fmt: skip
    print_report(rates, statements, clock)


if __name__ == "__main__":
    run_benchmark(benchmark)
