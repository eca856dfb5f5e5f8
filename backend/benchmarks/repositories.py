"""How fast the repository layer is next to raw asyncpg running the same SQL, and where the
difference goes.

In ops/s at concurrency 1 and 10 (tasks each taking a session or connection from a pool of 10
per operation): `SessionRepository.create` (a login's write), `UserRepository.get_by_id`, and
`MessageRepository.get_last_n(conversation, 20)` on a 10,000-message conversation, each against
asyncpg running the same statement; and `ChunkRepository.create_many` of 1,000 ~1 KB chunks,
committed, in chunks/s, against asyncpg `executemany` and COPY, on the head schema and on
revision 0015, the last on which PostgreSQL computed a GIN-indexed `chunks.search_vector` of
every row (migration 0016 dropped it: passages are what a search matches).

The reads run as `[app defaults]` (the application's engine with pre-ping, a transaction per
session, committed) and as `[read_only]` (the API's read path: AUTOCOMMIT without pre-ping, both
reads HotReads straight on asyncpg), where the targets are measured. A probe first records the
statements each sends around one get_by_id. All sides of a measurement take turns in short
slices and each side's rate is the median slice's, so a change in machine load hits all sides
alike. About a minute and a half:

    cd backend && .venv/bin/python -m benchmarks.repositories
"""

import random
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories import (
    MessageRepository,
    SessionRepository,
    UserRepository,
)
from benchmarks.harness import database as db
from benchmarks.harness import report
from benchmarks.harness.chunk_inserts import ChunkInsert, chunk_batch, chunk_inserts
from benchmarks.harness.load import Slices, rates_in_turns
from benchmarks.harness.machine import Clock
from benchmarks.harness.runner import run_benchmark
from benchmarks.harness.sessions import (
    APP_DEFAULTS,
    READ_ONLY,
    Operation,
    SessionKind,
    session_kinds,
    statements_around_a_read,
)
from benchmarks.harness.timing import timed

CONCURRENCIES = (1, 10)
POOL_SIZE = max(CONCURRENCIES)
MEASURE_SECONDS = 2.4  # per side and measurement, split into slices
MEASURE_MAX_OPS = 40_000
SLICES = 8
WARMUP_SECONDS = 0.3
WARMUP_OPS_PER_TASK = 30

SEEDED_USERS = 10_000
CONVERSATION_MESSAGES = 10_000
LAST_N = 20
CHUNK_WARMUP_ROUNDS = 1
CHUNK_MAX_ROUNDS = 20

# On the path the API reads by (read_only): at concurrency 1 and at 10.
READ_MIN_RATIO = {1: 0.6, 10: 0.4}
CREATE_MANY_MIN_CHUNKS_PER_SECOND = 20_000

OLD_REVISION = "0015"  # the last revision with chunks.search_vector
HEAD_SCHEMA, OLD_SCHEMA = "head: without search_vector", "0015: with"
SELECT_USER = "SELECT * FROM users WHERE id = $1"
INSERT_SESSION = (
    "INSERT INTO sessions (user_id, token_hash, expires_at) VALUES ($1, $2, $3) RETURNING *"
)
HEADERS = ("operation [configuration]", "concurrency", "repository ops/s", "asyncpg ops/s", "ratio")


@dataclass(frozen=True)
class Result:
    operation: str
    configuration: str  # the session configuration, or for create_many the schema
    concurrency: int
    repository: float
    asyncpg: float
    baseline: str = ""  # create_many: the asyncpg way of inserting compared against

    @property
    def ratio(self) -> float:
        return self.repository / self.asyncpg

    def cells(self) -> list[str]:
        label = f"{self.operation} [{self.configuration}]"
        label += f" vs {self.baseline}" if self.baseline else ""
        figures = [f"{self.repository:,.0f}", f"{self.asyncpg:,.0f}", f"{self.ratio:.2f}"]
        return [label, str(self.concurrency), *figures]

    def at(self, operation: str, configuration: str, concurrency: int = 1) -> bool:
        where = (self.operation, self.configuration, self.concurrency)
        return where == (operation, configuration, concurrency)


# --- seed data -------------------------------------------------------------------------------


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
        # Fresh statistics, so the planner reads the last n straight from the index.
        await connection.execute("ANALYZE")
    return user_ids, conversation_id


# --- measuring -------------------------------------------------------------------------------


async def compare(
    operation: str, sides: Sequence[tuple[str, Operation]], raw: Operation
) -> list[Result]:
    """At every concurrency, each repository configuration's ops/s and asyncpg's, measured in
    turns; rows by configuration."""
    results = []
    for concurrency in CONCURRENCIES:
        # The warm-up opens the pool's connections and fills the prepared-statement caches.
        warm_up = (WARMUP_OPS_PER_TASK * concurrency, WARMUP_SECONDS)
        operations = [*(side for _, side in sides), raw]
        budget = (MEASURE_MAX_OPS, MEASURE_SECONDS)
        *rates, baseline = await rates_in_turns(operations, concurrency, SLICES, budget, warm_up)
        results += [
            Result(operation, label, concurrency, rate, baseline)
            for (label, _), rate in zip(sides, rates, strict=True)
        ]
    order = [label for label, _ in sides]
    return sorted(results, key=lambda result: order.index(result.configuration))


def session_expiry() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


async def measure_reads(
    kinds: Sequence[SessionKind],
    pool: asyncpg.Pool,
    user_ids: list[uuid.UUID],
    conversation_id: uuid.UUID,
) -> list[Result]:
    owner_id = user_ids[0]

    def create(session: AsyncSession) -> Awaitable[object]:
        return SessionRepository(session).create(
            user_id=owner_id, token_hash=uuid.uuid4().hex, expires_at=session_expiry()
        )

    def get_user(session: AsyncSession) -> Awaitable[object]:
        return UserRepository(session).get_by_id(random.choice(user_ids))

    def last_messages(session: AsyncSession) -> Awaitable[object]:
        return MessageRepository(session).get_last_n(conversation_id, LAST_N)

    async def raw_last_messages() -> None:
        list(reversed(await pool.fetch(db.SELECT_LAST_MESSAGES, conversation_id, LAST_N)))

    async def raw_create() -> None:
        await pool.fetchrow(INSERT_SESSION, owner_id, uuid.uuid4().hex, session_expiry())

    app_defaults = kinds[0]  # a write needs its transaction: the app defaults only
    return [
        *await compare("create", [(APP_DEFAULTS, app_defaults.operation(create))], raw_create),
        *await compare(
            "get_by_id",
            [(kind.label, kind.operation(get_user)) for kind in kinds],
            lambda: pool.fetchrow(SELECT_USER, random.choice(user_ids)),
        ),
        *await compare(
            "get_last_n",
            [(kind.label, kind.operation(last_messages)) for kind in kinds],
            raw_last_messages,
        ),
    ]


ChunkDatabase = tuple[str, asyncpg.Pool, uuid.UUID, list[ChunkInsert]]  # schema, pool, owner


async def measure_create_many(databases: Sequence[ChunkDatabase]) -> list[Result]:
    """Rounds over every database in turn, one 1,000-chunk batch per way of inserting, each
    into a new transcript (only the insert and its commit timed), until each way has had
    MEASURE_SECONDS of inserting or CHUNK_MAX_ROUNDS rounds (the fast ways on the old schema
    would take hundreds)."""
    tallies = [[Slices(), Slices(), Slices()] for _ in databases]
    for round_ in range(CHUNK_WARMUP_ROUNDS + CHUNK_MAX_ROUNDS):
        for (_, pool, owner_id, inserts), row in zip(databases, tallies, strict=True):
            for insert, tally in zip(inserts, row, strict=True):
                batch = await chunk_batch(pool, owner_id)
                _, seconds = await timed(insert(batch))
                if round_ >= CHUNK_WARMUP_ROUNDS:
                    tally.slices.append((len(batch), seconds))
        if (
            round_ >= CHUNK_WARMUP_ROUNDS
            and min(t.seconds for row in tallies for t in row) >= MEASURE_SECONDS
        ):
            break
    results = []
    for (schema, *_), (repository, executemany, copy) in zip(databases, tallies, strict=True):
        results += [
            Result("create_many", schema, 1, repository.rate, executemany.rate, "executemany"),
            Result("create_many", schema, 1, repository.rate, copy.rate, "COPY"),
        ]
    return results


# --- report ----------------------------------------------------------------------------------


def targets(results: Sequence[Result]) -> list[str]:
    lines = ["Targets:"]
    for operation in ("get_by_id", "get_last_n"):
        for concurrency, minimum in READ_MIN_RATIO.items():
            ratio = next(r for r in results if r.at(operation, READ_ONLY, concurrency)).ratio
            lines.append(
                f"- {operation} [{READ_ONLY}] at concurrency {concurrency} >= {minimum}x "
                f"asyncpg: {report.verdict(ratio >= minimum)} ({ratio:.2f})"
            )
    verdicts = []
    for schema in (HEAD_SCHEMA, OLD_SCHEMA):
        rate = create_many_rate(results, schema)
        passed = rate >= CREATE_MANY_MIN_CHUNKS_PER_SECOND
        verdicts.append(f"[{schema}] {report.verdict(passed)} ({rate:,.0f})")
    minimum = CREATE_MANY_MIN_CHUNKS_PER_SECOND
    return [*lines, f"- create_many >= {minimum:,} chunks/s: " + ", ".join(verdicts)]


def create_many_rate(results: Sequence[Result], schema: str, baseline: str = "") -> float:
    """The repository's chunks/s on `schema`; with `baseline`, that asyncpg way's."""
    found = [r for r in results if r.at("create_many", schema)]
    if not baseline:
        return found[0].repository
    return next(r.asyncpg for r in found if r.baseline == baseline)


def read_breakdown(results: Sequence[Result], operation: str, built: str) -> str:
    """Time per call at concurrency 1, where calls do not overlap."""
    app, read_only = (
        1_000_000 / next(r for r in results if r.at(operation, kind)).repository
        for kind in (APP_DEFAULTS, READ_ONLY)
    )
    raw = 1_000_000 / next(r for r in results if r.at(operation, APP_DEFAULTS)).asyncpg
    return (
        f"{operation} took {app:,.0f} µs per call with the app defaults, {read_only:,.0f} µs "
        f"in read_only (the transaction and the ping: {app - read_only:,.0f} µs), against "
        f"{raw:,.0f} µs through asyncpg, whose call is its one round trip; the "
        f"{read_only - raw:,.0f} µs left are SQLAlchemy's work in Python around the same asyncpg "
        f"call: opening and closing the session, its connection checkout, and {built}"
    )


def named(statements: Sequence[str]) -> str:
    names = [
        "';' (the ping)" if query.strip() == ";" else query.strip().rstrip(";")
        for query in statements
    ]
    return ", ".join(names) or "none"


def explanation(results: Sequence[Result], statements: dict[str, list[str]]) -> str:
    """Where the time goes, in figures from this run."""
    sent = "; ".join(f"[{kind}] {named(queries)}" for kind, queries in statements.items())
    added = len(statements[APP_DEFAULTS]) - len(statements[READ_ONLY])
    user_built = "making the User from the row and adding it to the session"
    return (
        "Where the time goes. Round trips a session adds to the query, as asyncpg logged them "
        f"around one get_by_id: {sent}. "
        f"The transaction and the pre-ping add {added}; read_only sessions have neither. "
        "At concurrency 1, calls one after the other: "
        f"{read_breakdown(results, 'get_by_id', user_built)}; "
        f"{read_breakdown(results, 'get_last_n', f'{LAST_N} plain rows (MessageRow)')}. "
        "At concurrency 10 one task's round trips overlap with the others' Python work on "
        "the two cores, so that work, more than the waiting, sets the ratio there. "
        "create_many: on 0015 PostgreSQL computed to_tsvector('english', chunk_text) for "
        "every row inserted and added its lexemes to the GIN index on search_vector, which no "
        "client can skip: asyncpg reaches "
        f"{create_many_rate(results, OLD_SCHEMA, 'executemany'):,.0f} chunks/s with "
        f"executemany and {create_many_rate(results, OLD_SCHEMA, 'COPY'):,.0f} with COPY "
        f"there, against {create_many_rate(results, HEAD_SCHEMA, 'executemany'):,.0f} and "
        f"{create_many_rate(results, HEAD_SCHEMA, 'COPY'):,.0f} on the head schema without the "
        f"column; the repository's {create_many_rate(results, OLD_SCHEMA):,.0f} and "
        f"{create_many_rate(results, HEAD_SCHEMA):,.0f} chunks/s add building the rows in Python "
        "and passing them through the ORM's bulk insert (no RETURNING)."
    )


def print_report(results: Sequence[Result], statements: dict[str, list[str]], clock: Clock) -> None:
    report.print_tables(
        report.table(
            "Repository layer vs raw asyncpg (ratio = repository / asyncpg)",
            HEADERS,
            [result.cells() for result in results],
            caption=f"{clock.closing()} create_many in chunks/s.",
        )
    )
    for line in targets(results):
        report.say(line)
    report.say("")
    report.say(explanation(results, statements))


# --- entry point -----------------------------------------------------------------------------


async def benchmark() -> None:
    clock = Clock()
    server = db.server_url()
    async with (
        db.throwaway_database(server) as database_url,
        session_kinds(database_url, POOL_SIZE) as kinds,
        db.asyncpg_pool(database_url, POOL_SIZE) as pool,
    ):
        user_ids, conversation_id = await seed(pool)
        statements = await statements_around_a_read(database_url, user_ids[0])
        results = await measure_reads(kinds, pool, user_ids, conversation_id)
        async with (
            db.throwaway_database(server, OLD_REVISION) as old_url,
            db.app_engine(db.bench_settings(old_url, POOL_SIZE)) as old_engine,
            db.asyncpg_pool(old_url, POOL_SIZE) as old_pool,
        ):
            old_owner, old_sessions = await db.new_user(old_pool), db.session_maker(old_engine)
            databases = [
                (HEAD_SCHEMA, pool, user_ids[0], chunk_inserts(kinds[0].sessions, pool)),
                (OLD_SCHEMA, old_pool, old_owner, chunk_inserts(old_sessions, old_pool)),
            ]
            results += await measure_create_many(databases)
    print_report(results, statements, clock)


if __name__ == "__main__":
    run_benchmark(benchmark)
