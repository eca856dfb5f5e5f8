"""How much the application costs per HTTP request, next to a bare server doing the same SQL.

Two uvicorn servers run side by side on loopback, against one throw-away database:

- `app`: the real application (`app.main:app`), with its middleware, dependencies, SQLAlchemy
  sessions and pydantic response models;
- `bare`: `benchmarks.bare_server.bare_app`, a Starlette app on a raw `asyncpg` pool that runs
  the same queries for the same five endpoints, with the same bearer-token check (one query
  joining the live session with the token's SHA-256 to its user, as the app's lookup does),
  and answers with JSON of the same shape. It skips input validation and the OpenAPI response
  models: that is part of what the app costs.

Endpoints measured (at concurrency 10, and the first one at 1 as well):

1. `GET /api/v1/conversations?limit=20`: a page of 50 conversations and their count;
2. `GET /api/v1/conversations/{id}/messages?limit=20`: the 20 oldest of 200 messages, and count;
3. `POST /api/v1/conversations`: a titled conversation, the plain write (one INSERT);
4. `POST /api/v1/conversations/{id}/messages`: a chat turn with the offline model (the default
   with no LLM_BASE_URL), spread round-robin over 50 conversations. In the app's two
   transactions: check the conversation, read the last 10 messages, store the question (and
   title an untitled conversation), search the user's chunks with `ChunkRepository.search`'s
   own SQL (every word, then any word when nothing matched; the coverage filter), commit; then
   quote the best sentences of the hits (`best_sentences`), count the prompt's and the answer's
   tokens, store the answer with its citations and a usage_events row, commit. Seven questions
   about five ~3,000-word videos (33 chunks with timings) take turns; six match every word, one
   falls back to any word. A question nothing matches is answered with `NOT_IN_VIDEOS`, without
   the model and the ledger, on both servers alike;
5. `POST /api/v1/transcripts`: a 10,000-word transcript, chunked (700 tokens, 20 % overlap,
   cl100k_base, in a thread) and stored with its chunks in one transaction.

The user, the five videos, the conversations and their messages are created through the real
API; each of the 50 conversations is asked 5 questions first, so that every measured turn reads
a full history on either server, and the setup stops unless every one of those answers is
grounded. Each scenario runs on one server at a time (client, servers and PostgreSQL share the
machine's cores), after a short warm-up, until its request budget or its time limit is spent.
The load comes from one `httpx.AsyncClient` per scenario with as many keep-alive connections as
the concurrency. Any non-2xx answer is an error; the first one's body is printed.

The database is created on the server BENCH_DATABASE_URL or TEST_DATABASE_URL names, else on an
embedded PostgreSQL in backend/.data/postgres-bench, migrated to head and dropped at the end.
Takes about a minute on two cores, never much more than two (every run stops after 8 s):

    cd backend && .venv/bin/python -m benchmarks.http_load

Reading the table: `app/bare` is the app's req/s divided by the bare server's for the same
endpoint and concurrency; 1.00 means the framework and the data layer cost nothing, 0.25 means
the app serves a quarter of what the same SQL could. `server CPU ms/req` is the server
process's own CPU time per request (PostgreSQL's is not included): it says what the app spends
even when the load generator, not the server, limits req/s. `client CPU` near 100 % means the
load generator itself was saturated, so the bare figures are a floor.
"""

import asyncio
import itertools
import math
import os
import platform
import random
import secrets
import signal
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from benchmarks.bare_server import API
from benchmarks.harness import (
    Server,
    check_running,
    expect,
    machine_busy_share,
    process_cpu_seconds,
    run,
    uvicorn_server,
    wait_until_ready,
)
from benchmarks.repositories import (
    asyncpg_dsn,
    server_url,
    throwaway_database,
)

PAGE_LIMIT = 20

CONCURRENCY = 10
READ_REQUESTS = 2_000
CONVERSATION_POSTS = 1_000
QUESTION_POSTS = 1_000
TRANSCRIPT_POSTS = 60
READ_WARMUP = 100
CONVERSATION_WARMUP = 50
QUESTION_WARMUP = 50
TRANSCRIPT_WARMUP = 4
MEASURE_SECONDS = 8.0
WARMUP_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 30.0

SETUP_CONVERSATIONS = 50
SETUP_QUESTIONS = 100  # in the long conversation: 200 messages with their answers
# Questions asked in each conversation before the measurement, so that every measured turn
# reads a full history (CHAT_HISTORY_MESSAGES, 10) on both servers.
SETUP_TURNS = 5
TRANSCRIPT_WORDS = 10_000
# The transcript's words, drawn at random: ordinary English words of one or two tokens each.
VOCABULARY_TEXT = (
    "the video explains how a small team ships software every week and why it keeps its "
    "releases boring with tests reviews and careful rollouts so that nobody works late"
)

# The videos the chat questions are about: TOPIC_WORDS words each, in sentences of 8 to 16
# words, about a third of them the topic's own, the rest common words; one caption segment
# per sentence, so that chunks carry timings and citations deep links, as ingested captions do.
TOPIC_WORDS = 3_000
TOPIC_SHARE = 0.3
SECONDS_PER_WORD = 0.4
COMMON_WORDS = (
    "speaker explains shows how small change makes every step easier and why it matters when "
    "you start first good best time need reach much use add help say keep simple careful "
    "later practice week people often really think right way each part next together"
)
TOPICS = (
    (
        "Baking sourdough bread at home",
        "sourdough starter flour dough oven crust yeast loaf bake hydration salt knead "
        "proofing banneton scoring steam",
    ),
    (
        "How rockets reach orbit",
        "rocket engine thrust orbit fuel oxygen nozzle stage booster gravity velocity payload "
        "launch trajectory altitude",
    ),
    (
        "Growing tomatoes in a small garden",
        "tomato garden soil compost seedling watering sunlight pruning fertilizer harvest pest "
        "mulch trellis roots leaves",
    ),
    (
        "Indexing a PostgreSQL database",
        "database index query table postgres planner btree vacuum transaction row column lock "
        "replica cache disk",
    ),
    (
        "Learning jazz piano",
        "piano chord scale jazz melody rhythm improvisation harmony keyboard swing voicing "
        "tempo pedal bassline",
    ),
)
# Seven questions, prime to the 50 conversations, so that each conversation hears them all.
# All but the last find every word in one video (match="all"); the last mixes two videos, so
# retrieval falls back to match="any" and the coverage filter keeps the chunks that qualify.
QUESTIONS = (
    "How does the sourdough starter change the crust of the loaf?",
    "Why does the rocket engine need so much thrust to reach orbit?",
    "When should I add compost to the tomato soil in the garden?",
    "How does the postgres planner use an index for a query?",
    "Which chord voicing does the speaker use for a jazz melody?",
    "What does the speaker say about pruning tomato seedlings and watering?",
    "Can the piano rhythm help the rocket launch?",
)

APP_TARGET = ("app.main:app",)
BARE_TARGET = ("benchmarks.bare_server:bare_app", "--factory")
# Cheap password hashing keeps the setup short; the throttle must not refuse the setup's login.
SERVER_SETTINGS = {
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_COST_KIB": "1024",
    "ARGON2_PARALLELISM": "1",
    "LOGIN_CLIENT_BACKOFF_AFTER_FAILURES": "1000000",
    # One user asks 1,000 questions and stores 60 transcripts: no limit, but each is still counted.
    "LIMIT_ASKS_PER_MINUTE": "0",
    "LIMIT_INGESTS_PER_HOUR": "0",
    "LIMIT_TOKENS_PER_DAY": "0",
}
VERSIONED_PACKAGES = (
    "uvicorn",
    "uvloop",
    "httptools",
    "fastapi",
    "starlette",
    "pydantic",
    "sqlalchemy",
    "asyncpg",
    "httpx",
)


# --- setup through the real API --------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    token: str
    conversation_ids: list[str]
    long_conversation_id: str


async def sign_in(client: httpx.AsyncClient) -> str:
    credentials = {
        "email": f"bench-{uuid.uuid4().hex[:12]}@example.com",
        "password": secrets.token_urlsafe(16),
    }
    await expect(client.post(f"{API}/auth/register", json=credentials), 202)
    login = await expect(client.post(f"{API}/auth/login", json=credentials), 200)
    return str(login["access_token"])


async def new_conversation(client: httpx.AsyncClient, title: str) -> str:
    created = await expect(client.post(f"{API}/conversations", json={"title": title}), 201)
    return str(created["id"])


def topic_segments(topic: int, words: str) -> list[dict[str, Any]]:
    """A video's captions: sentences of its topic's and common words, one segment each."""
    draw = random.Random(topic)  # seeded: the same videos, so the same chunks, each run
    own, common = words.split(), COMMON_WORDS.split()
    segments: list[dict[str, Any]] = []
    start, count = 0.0, 0
    while count < TOPIC_WORDS:
        length = draw.randint(8, 16)
        sentence = [
            draw.choice(own if draw.random() < TOPIC_SHARE else common) for _ in range(length)
        ]
        text = " ".join(sentence).capitalize() + "."
        duration = length * SECONDS_PER_WORD
        segments.append({"text": text, "start": round(start, 1), "duration": duration})
        start, count = start + duration, count + length
    return segments


async def ingest_topics(client: httpx.AsyncClient) -> None:
    """The videos the questions are about, stored through the real API."""
    for topic, (title, words) in enumerate(TOPICS):
        # "topic" + 6 digits = 11 characters, apart from the scenario's "bench" ids.
        segments = topic_segments(topic, words)
        body = {"video": f"topic{topic:06d}", "title": title, "segments": segments}
        await expect(client.post(f"{API}/transcripts", json=body), 201)


async def fill_histories(client: httpx.AsyncClient, conversation_ids: Sequence[str]) -> None:
    """SETUP_TURNS questions in each conversation, CONCURRENCY conversations at a time; every
    answer must be grounded, or the scenario would not measure retrieval and the answer."""
    slots = asyncio.Semaphore(CONCURRENCY)

    async def fill(position: int, conversation_id: str) -> None:
        async with slots:
            for turn in range(SETUP_TURNS):
                question = QUESTIONS[(position * SETUP_TURNS + turn) % len(QUESTIONS)]
                path = f"{API}/conversations/{conversation_id}/messages"
                exchange = await expect(client.post(path, json={"content": question}), 201)
                if not exchange["assistant_message"]["metadata"]["grounded"]:
                    raise RuntimeError(f"setup: nothing in the videos answers {question!r}")

    await asyncio.gather(*(fill(n, id_) for n, id_ in enumerate(conversation_ids)))


async def set_up_fixture(app: Server) -> Fixture:
    async with httpx.AsyncClient(
        base_url=app.base_url, timeout=REQUEST_TIMEOUT_SECONDS, trust_env=False
    ) as client:
        token = await sign_in(client)
        client.headers["Authorization"] = f"Bearer {token}"
        await ingest_topics(client)
        conversation_ids = [
            await new_conversation(client, f"Conversation {n}") for n in range(SETUP_CONVERSATIONS)
        ]
        long_id = await new_conversation(client, "The long one")
        messages = f"{API}/conversations/{long_id}/messages"
        # One after another, so that created_at, and so the page's order, follows n. No video
        # mentions these, so each is answered (cheaply) that the videos do not cover it.
        for n in range(SETUP_QUESTIONS):
            await expect(client.post(messages, json={"content": f"Message {n}"}), 201)
        await fill_histories(client, conversation_ids)
    return Fixture(token, conversation_ids, long_id)


# --- scenarios and the load generator --------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Scenario:
    endpoint: str
    concurrency: int
    max_requests: int
    warmup_requests: int
    next_call: Callable[[], Call]


def transcript_text() -> str:
    words = random.Random(TRANSCRIPT_WORDS)  # seeded: the same text, so the same chunks, each run
    vocabulary = VOCABULARY_TEXT.split()
    return " ".join(words.choice(vocabulary) for _ in range(TRANSCRIPT_WORDS))


def scenarios(fixture: Fixture) -> list[Scenario]:
    list_page = Call("GET", f"{API}/conversations?limit={PAGE_LIMIT}")
    long_chat = f"{API}/conversations/{fixture.long_conversation_id}/messages"
    messages_page = Call("GET", f"{long_chat}?limit={PAGE_LIMIT}")
    new_conversation = Call("POST", f"{API}/conversations", {"title": "A new conversation"})
    # Round-robin over 50 conversations: posts into one would queue on its row lock, taken by
    # the trigger that moves updated_at, which is not what one user's chat does.
    targets = itertools.cycle(fixture.conversation_ids)
    questions = itertools.cycle(QUESTIONS)
    # One sequence for both servers: (user, video) is unique. "bench" + 6 digits = 11 characters.
    video_ids = (f"bench{n:06d}" for n in itertools.count())
    text = transcript_text()

    def ask_question() -> Call:
        path = f"{API}/conversations/{next(targets)}/messages"
        return Call("POST", path, {"content": next(questions)})

    def post_transcript() -> Call:
        body = {"video": next(video_ids), "title": "A talk", "transcript_text": text}
        return Call("POST", f"{API}/transcripts", body)

    return [
        Scenario("GET /conversations", 1, READ_REQUESTS, READ_WARMUP, lambda: list_page),
        Scenario("GET /conversations", CONCURRENCY, READ_REQUESTS, READ_WARMUP, lambda: list_page),
        Scenario(
            "GET /conversations/{id}/messages",
            CONCURRENCY,
            READ_REQUESTS,
            READ_WARMUP,
            lambda: messages_page,
        ),
        # After the reads: every conversation it creates joins the user's list.
        Scenario(
            "POST /conversations",
            CONCURRENCY,
            CONVERSATION_POSTS,
            CONVERSATION_WARMUP,
            lambda: new_conversation,
        ),
        Scenario(
            "POST /conversations/{id}/messages",
            CONCURRENCY,
            QUESTION_POSTS,
            QUESTION_WARMUP,
            ask_question,
        ),
        # Last: the chunks it stores would join the searches of any scenario after it.
        Scenario(
            "POST /transcripts", CONCURRENCY, TRANSCRIPT_POSTS, TRANSCRIPT_WARMUP, post_transcript
        ),
    ]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    sample: Any = None  # the first successful answer's JSON, to compare the servers' shapes

    def record(self, seconds: float, failure: str | None) -> None:
        self.latencies.append(seconds)
        if failure is not None:
            self.errors += 1
            self.first_error = self.first_error or failure


async def send(client: httpx.AsyncClient, call: Call, tally: Tally) -> None:
    started = time.perf_counter()
    try:
        response = await client.request(call.method, call.path, json=call.body)
    except httpx.HTTPError as problem:
        tally.record(time.perf_counter() - started, f"{call.method} {call.path}: {problem!r}")
        return
    elapsed = time.perf_counter() - started
    if not response.is_success:
        failure = f"{response.status_code} on {call.method} {call.path}: {response.text[:500]}"
        tally.record(elapsed, failure)
        return
    tally.record(elapsed, None)
    if tally.sample is None:
        tally.sample = response.json()


async def drive(
    client: httpx.AsyncClient, scenario: Scenario, max_requests: int, seconds: float
) -> Tally:
    """Requests from `concurrency` tasks until `max_requests` are sent or `seconds` pass."""
    tally = Tally()
    deadline = time.perf_counter() + seconds
    # One shared iterator hands out the budget, so faster tasks take more of it.
    budget = iter(range(max_requests))

    async def worker() -> None:
        for _ in budget:
            if time.perf_counter() >= deadline:
                return
            await send(client, scenario.next_call(), tally)

    await asyncio.gather(*(worker() for _ in range(scenario.concurrency)))
    return tally


def percentile_ms(latencies: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    ordered = sorted(latencies)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1] * 1000


@dataclass(frozen=True)
class Measurement:
    server: str
    tally: Tally
    seconds: float
    server_cpu_seconds: float | None
    client_cpu_seconds: float
    warmup_error: str | None

    @property
    def requests(self) -> int:
        return len(self.tally.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def server_cpu_ms_per_request(self) -> str:
        if self.server_cpu_seconds is None or not self.requests:
            return "-"
        return f"{self.server_cpu_seconds * 1000 / self.requests:.2f}"

    def client_cpu_share(self) -> str:
        return f"{self.client_cpu_seconds / self.seconds:.0%}"


async def measure(server: Server, token: str, scenario: Scenario) -> Measurement:
    check_running(server)
    limits = httpx.Limits(
        max_connections=scenario.concurrency, max_keepalive_connections=scenario.concurrency
    )
    async with httpx.AsyncClient(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {token}"},
        limits=limits,
        timeout=REQUEST_TIMEOUT_SECONDS,
        trust_env=False,  # loopback only, whatever proxy the environment names
    ) as client:
        # The warm-up opens the keep-alive connections and the servers' pooled database
        # connections, and fills their prepared-statement caches.
        warmup = await drive(client, scenario, scenario.warmup_requests, WARMUP_SECONDS)
        server_cpu_before = process_cpu_seconds(server.process.pid)
        client_cpu_before = time.process_time()
        started = time.perf_counter()
        tally = await drive(client, scenario, scenario.max_requests, MEASURE_SECONDS)
        seconds = time.perf_counter() - started
        client_cpu = time.process_time() - client_cpu_before
        server_cpu_after = process_cpu_seconds(server.process.pid)
    check_running(server)
    server_cpu = None
    if server_cpu_before is not None and server_cpu_after is not None:
        server_cpu = server_cpu_after - server_cpu_before
    if tally.sample is None:  # every timed request failed; the warm-up may have a success
        tally.sample = warmup.sample
    return Measurement(server.name, tally, seconds, server_cpu, client_cpu, warmup.first_error)


@dataclass(frozen=True)
class Comparison:
    scenario: Scenario
    app: Measurement
    bare: Measurement

    @property
    def ratio(self) -> float:
        return self.app.rate / self.bare.rate if self.bare.rate else math.nan


async def compare(app: Server, bare: Server, token: str, scenario: Scenario) -> Comparison:
    Console(stderr=True).print(
        f"[dim]{scenario.endpoint} at concurrency {scenario.concurrency}…[/dim]"
    )
    return Comparison(
        scenario, await measure(app, token, scenario), await measure(bare, token, scenario)
    )


# --- report ----------------------------------------------------------------------------------


def json_shape(value: Any) -> Any:
    """Keys and value types, lists by their first item: what must match between the servers."""
    if isinstance(value, dict):
        return {key: json_shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [json_shape(value[0])] if value else []
    return type(value).__name__


def measurement_row(measurement: Measurement) -> list[str]:
    latencies = measurement.tally.latencies
    return [
        measurement.server,
        f"{measurement.requests:,}",
        f"{measurement.rate:,.0f}",
        f"{percentile_ms(latencies, 0.50):.1f}" if latencies else "-",
        f"{percentile_ms(latencies, 0.99):.1f}" if latencies else "-",
        str(measurement.tally.errors),
        measurement.server_cpu_ms_per_request(),
        measurement.client_cpu_share(),
    ]


HEADERS = (
    "endpoint",
    "c",
    "server",
    "requests",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "server CPU ms/req",
    "client CPU",
    "app/bare",
)
# Files and pipes do not wrap: there the table gets the width its columns need.
UNWRAPPED_WIDTH = 150


def results_table(comparisons: Sequence[Comparison]) -> Table:
    table = Table(title="The application vs a bare Starlette + asyncpg server, same SQL")
    for index, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if index < 3 else "right")
    for comparison in comparisons:
        scenario = comparison.scenario
        label = [scenario.endpoint, str(scenario.concurrency)]
        table.add_row(*label, *measurement_row(comparison.app), f"{comparison.ratio:.2f}")
        table.add_row("", "", *measurement_row(comparison.bare), "", end_section=True)
    return table


def run_problems(name: str, measurement: Measurement) -> list[str]:
    where = f"{name} on {measurement.server}"
    found = []
    if measurement.tally.first_error:
        errors = measurement.tally.errors
        found.append(f"{where}: {errors} errors, the first: {measurement.tally.first_error}")
    if measurement.warmup_error:
        found.append(f"{where}, during the warm-up: {measurement.warmup_error}")
    return found


def problems(comparisons: Sequence[Comparison]) -> list[str]:
    """Errors (the first body of each run) and answers whose shapes differ between servers."""
    found = []
    for comparison in comparisons:
        name = f"{comparison.scenario.endpoint} (c={comparison.scenario.concurrency})"
        found += run_problems(name, comparison.app) + run_problems(name, comparison.bare)
        app_shape = json_shape(comparison.app.tally.sample)
        bare_shape = json_shape(comparison.bare.tally.sample)
        if app_shape != bare_shape:
            found.append(f"{name}: the answers differ in shape: app {app_shape}, bare {bare_shape}")
    return found


def installed_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def environment_line(postgres_version: str, busy_before: str) -> str:
    packages = ", ".join(f"{name} {installed_version(name)}" for name in VERSIONED_PACKAGES)
    return (
        f"Python {platform.python_version()}, {packages}, PostgreSQL {postgres_version}. "
        "uvicorn runs with --loop auto and --http auto, which pick uvloop and httptools when "
        f"installed; the load generator runs on uvloop too. {os.cpu_count()} CPUs, "
        f"{busy_before} busy just before the run (other work there skews every figure)."
    )


async def server_version(database_url: str) -> str:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def report_console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=UNWRAPPED_WIDTH)


def print_report(
    comparisons: Sequence[Comparison],
    environment: str,
    server_output: dict[str, str],
    seconds: float,
) -> None:
    console = report_console()
    console.print(results_table(comparisons))
    # markup=False throughout: error bodies and server logs are full of square brackets.
    console.print(environment, markup=False, highlight=False)
    found = problems(comparisons)
    for problem in found:
        console.print(f"! {problem}", style="red", markup=False, highlight=False)
    if not found:
        console.print("No errors; the two servers' answers have the same shape.")
    for name, output in server_output.items():
        if output.strip():
            console.print(f"The {name} server said:\n{output[-3000:]}", markup=False)
    console.print(f"Took {seconds:.0f} s.")


# --- entry point -----------------------------------------------------------------------------


async def benchmark() -> None:
    started = time.perf_counter()
    busy_before = await machine_busy_share()
    async with throwaway_database(server_url()) as database_url:
        with (
            uvicorn_server("app", APP_TARGET, database_url, SERVER_SETTINGS) as app,
            uvicorn_server("bare", BARE_TARGET, database_url, SERVER_SETTINGS) as bare,
        ):
            await asyncio.gather(wait_until_ready(app), wait_until_ready(bare))
            fixture = await set_up_fixture(app)
            comparisons = [
                await compare(app, bare, fixture.token, scenario) for scenario in scenarios(fixture)
            ]
            server_output = {server.name: server.output() for server in (app, bare)}
        environment = environment_line(await server_version(database_url), busy_before)
    print_report(comparisons, environment, server_output, time.perf_counter() - started)


def main() -> None:
    # SIGTERM would end the process without the finally blocks that stop the servers and drop
    # the database; treated like Ctrl-C, it runs them.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        run(benchmark())
    except KeyboardInterrupt:
        print("Interrupted: the servers are stopped and the database is dropped.", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
