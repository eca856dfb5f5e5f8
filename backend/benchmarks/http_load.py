"""How much the application costs per HTTP request, next to a bare server doing the same SQL.

Two uvicorn servers side by side on loopback, one throw-away database: `app` (the application,
with its middleware, dependencies, SQLAlchemy sessions and response models) and `bare`
(harness/bare/: Starlette on a raw asyncpg pool, the same queries, the same bearer-token
check, JSON of the same shape; no input validation and no response models). Measured at
concurrency 10, and the first one at 1 as well:

1. GET /conversations?limit=20: a page of 50 conversations and their count;
2. GET /conversations/{id}/messages?limit=20: the 20 oldest of 200 messages, and their count;
3. POST /conversations: a titled conversation, the plain write;
4. POST /conversations/{id}/messages: a chat turn with the offline model, round-robin over 50
   conversations, each with a full history (5 questions asked in each first); seven questions
   about five ~3,000-word videos take turns, six match every word, one falls back to any word;
5. POST /transcripts: a 10,000-word transcript, chunked and stored with its chunks.

The user, the videos, the conversations and their messages are created through the real API.
Each scenario runs on one server at a time after a short warm-up, until its request budget or
8 s are spent, from one httpx client with as many keep-alive connections as the concurrency.
Any non-2xx answer is an error. About a minute on two cores:

    cd backend && .venv/bin/python -m benchmarks.http_load

`app/bare` is the app's req/s over the bare server's: 1.00 means the framework and the data
layer cost nothing. `server CPU ms/req` is the server process's own CPU per request (not
PostgreSQL's). `client CPU` near 100 % means the load generator was saturated: the bare figures
are then a floor (benchmarks/http_wrk.py loads with wrk instead).
"""

import asyncio
import itertools
import math
import platform
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx
from rich.console import Console

from benchmarks.harness import database as db
from benchmarks.harness import machine, report
from benchmarks.harness.api import API, conversations, expect, sign_in
from benchmarks.harness.load import Call, Tally, drive, load_client
from benchmarks.harness.runner import run_benchmark
from benchmarks.harness.servers import (
    APP_TARGET,
    BARE_TARGET,
    CHEAP_SETTINGS,
    Server,
    check_running,
    uvicorn_server,
    wait_until_ready,
)

CONCURRENCY = 10
PAGE_LIMIT = 20
MEASURE_SECONDS = 8.0
WARMUP_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 30.0
SETUP_CONVERSATIONS = 50
SETUP_QUESTIONS = 100  # in the long conversation: 200 messages with their answers
SETUP_TURNS = 5  # each conversation's history before measuring: CHAT_HISTORY_MESSAGES, 10
TRANSCRIPT_WORDS = 10_000
# The transcript's words, drawn at random: ordinary English words of one or two tokens each.
VOCABULARY_TEXT = (
    "the video explains how a small team ships software every week and why it keeps its "
    "releases boring with tests reviews and careful rollouts so that nobody works late"
)
# The videos the questions are about: TOPIC_WORDS words each, in sentences of 8 to 16 words,
# about a third the topic's own, the rest common words; a caption segment per sentence.
TOPIC_WORDS = 3_000
TOPIC_SHARE = 0.3
SECONDS_PER_WORD = 0.4
COMMON_WORDS = (
    "speaker explains shows how small change makes every step easier and why it matters when "
    "you start first good best time need reach much use add help say keep simple careful "
    "later practice week people often really think right way each part next together"
)
TOPICS = (
    ("Baking sourdough bread at home", "sourdough starter flour dough oven crust yeast loaf "
     "bake hydration salt knead proofing banneton scoring steam"),
    ("How rockets reach orbit", "rocket engine thrust orbit fuel oxygen nozzle stage booster "
     "gravity velocity payload launch trajectory altitude"),
    ("Growing tomatoes in a small garden", "tomato garden soil compost seedling watering "
     "sunlight pruning fertilizer harvest pest mulch trellis roots leaves"),
    ("Indexing a PostgreSQL database", "database index query table postgres planner btree "
     "vacuum transaction row column lock replica cache disk"),
    ("Learning jazz piano", "piano chord scale jazz melody rhythm improvisation harmony "
     "keyboard swing voicing tempo pedal bassline"),
)  # fmt: skip
# Seven questions, prime to the 50 conversations, so that each conversation hears them all.
# All but the last find every word in one video; the last mixes two videos, so retrieval falls
# back to any word and the coverage filter keeps the chunks that qualify.
QUESTIONS = (
    "How does the sourdough starter change the crust of the loaf?",
    "Why does the rocket engine need so much thrust to reach orbit?",
    "When should I add compost to the tomato soil in the garden?",
    "How does the postgres planner use an index for a query?",
    "Which chord voicing does the speaker use for a jazz melody?",
    "What does the speaker say about pruning tomato seedlings and watering?",
    "Can the piano rhythm help the rocket launch?",
)
VERSIONED_PACKAGES = (
    "uvicorn", "uvloop", "httptools", "fastapi", "starlette", "pydantic", "sqlalchemy",
    "asyncpg", "httpx",
)  # fmt: skip
HEADERS = ("endpoint", "c", "server", "requests", "req/s", "p50 ms", "p99 ms", "errors",
           "server CPU ms/req", "client CPU", "app/bare")  # fmt: skip


# --- setup through the real API --------------------------------------------------------------


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


async def set_up(app: Server) -> tuple[dict[str, str], list[str], str]:
    """The videos and conversations, every conversation with SETUP_TURNS grounded answers (or
    the scenario would not measure retrieval and the answer); the bearer header."""
    async with httpx.AsyncClient(
        base_url=app.base_url, timeout=REQUEST_TIMEOUT_SECONDS, trust_env=False
    ) as client:
        headers = await sign_in(client)
        client.headers.update(headers)
        for topic, (title, words) in enumerate(TOPICS):
            # "topic" + 6 digits = 11 characters, apart from the scenario's "bench" ids.
            segments = topic_segments(topic, words)
            body = {"video": f"topic{topic:06d}", "title": title, "segments": segments}
            await expect(client.post(f"{API}/transcripts", json=body), 201)
        ids, long_id = await conversations(client, SETUP_CONVERSATIONS, SETUP_QUESTIONS)
        slots = asyncio.Semaphore(CONCURRENCY)  # CONCURRENCY conversations at a time

        async def fill(position: int, conversation_id: str) -> None:
            async with slots:
                for turn in range(SETUP_TURNS):
                    question = QUESTIONS[(position * SETUP_TURNS + turn) % len(QUESTIONS)]
                    path = f"{API}/conversations/{conversation_id}/messages"
                    exchange = await expect(client.post(path, json={"content": question}), 201)
                    if not exchange["assistant_message"]["metadata"]["grounded"]:
                        raise RuntimeError(f"setup: nothing in the videos answers {question!r}")

        await asyncio.gather(*(fill(n, id_) for n, id_ in enumerate(ids)))
    return headers, ids, long_id


# --- scenarios and measuring -----------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    endpoint: str
    concurrency: int
    max_requests: int
    warmup_requests: int
    next_call: Callable[[], Call]


def scenarios(conversation_ids: Sequence[str], long_id: str) -> list[Scenario]:
    list_page = Call("GET", f"{API}/conversations?limit={PAGE_LIMIT}")
    messages_page = Call("GET", f"{API}/conversations/{long_id}/messages?limit={PAGE_LIMIT}")
    new_conversation = Call("POST", f"{API}/conversations", {"title": "A new conversation"})
    # Round-robin over 50 conversations: posts into one would queue on its row lock, taken by
    # the trigger that moves updated_at, which is not what one user's chat does.
    targets, questions = itertools.cycle(conversation_ids), itertools.cycle(QUESTIONS)
    # One sequence for both servers: (user, video) is unique. "bench" + 6 digits = 11 characters.
    video_ids = (f"bench{n:06d}" for n in itertools.count())
    words = random.Random(TRANSCRIPT_WORDS)  # seeded: the same text, so the same chunks
    vocabulary = VOCABULARY_TEXT.split()
    text = " ".join(words.choice(vocabulary) for _ in range(TRANSCRIPT_WORDS))

    def ask() -> Call:
        path = f"{API}/conversations/{next(targets)}/messages"
        return Call("POST", path, {"content": next(questions)})

    def post_transcript() -> Call:
        body = {"video": next(video_ids), "title": "A talk", "transcript_text": text}
        return Call("POST", f"{API}/transcripts", body)

    return [
        Scenario("GET /conversations", 1, 2_000, 100, lambda: list_page),
        Scenario("GET /conversations", CONCURRENCY, 2_000, 100, lambda: list_page),
        Scenario(
            "GET /conversations/{id}/messages", CONCURRENCY, 2_000, 100, lambda: messages_page
        ),
        # After the reads: every conversation it creates joins the user's list.
        Scenario("POST /conversations", CONCURRENCY, 1_000, 50, lambda: new_conversation),
        Scenario("POST /conversations/{id}/messages", CONCURRENCY, 1_000, 50, ask),
        # Last: the chunks it stores would join the searches of any scenario after it.
        Scenario("POST /transcripts", CONCURRENCY, 60, 4, post_transcript),
    ]


@dataclass(frozen=True)
class Measurement:
    server: str
    tally: Tally
    seconds: float
    server_cpu_seconds: float | None
    client_cpu_seconds: float
    warmup_error: str | None

    @property
    def rate(self) -> float:
        return len(self.tally.latencies) / self.seconds

    def row(self) -> list[str]:
        latencies, requests = self.tally.latencies, len(self.tally.latencies)
        cpu = "-"
        if self.server_cpu_seconds is not None and requests:
            cpu = f"{self.server_cpu_seconds * 1000 / requests:.2f}"
        percentiles = [
            f"{report.percentile_ms(latencies, q):.1f}" if latencies else "-" for q in (0.5, 0.99)
        ]
        client = f"{self.client_cpu_seconds / self.seconds:.0%}"
        figures = [f"{requests:,}", f"{self.rate:,.0f}", *percentiles, str(self.tally.errors)]
        return [self.server, *figures, cpu, client]

    def problems(self, name: str) -> list[str]:
        where = f"{name} on {self.server}"
        found = []
        if self.tally.first_error:
            found.append(
                f"{where}: {self.tally.errors} errors, the first: {self.tally.first_error}"
            )
        if self.warmup_error:
            found.append(f"{where}, during the warm-up: {self.warmup_error}")
        return found


async def measure(server: Server, headers: dict[str, str], scenario: Scenario) -> Measurement:
    check_running(server)
    async with load_client(
        server.base_url, scenario.concurrency, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:
        # The warm-up opens the keep-alive connections and the servers' pooled database
        # connections, and fills their prepared-statement caches.
        warmup = await drive(
            client,
            scenario.next_call,
            scenario.concurrency,
            scenario.warmup_requests,
            WARMUP_SECONDS,
        )
        server_cpu_before = machine.process_cpu_seconds(server.process.pid)
        client_cpu_before = time.process_time()
        started = time.perf_counter()
        tally = await drive(
            client, scenario.next_call, scenario.concurrency, scenario.max_requests, MEASURE_SECONDS
        )
        seconds = time.perf_counter() - started
        client_cpu = time.process_time() - client_cpu_before
        server_cpu_after = machine.process_cpu_seconds(server.process.pid)
    check_running(server)
    server_cpu = None
    if server_cpu_before is not None and server_cpu_after is not None:
        server_cpu = server_cpu_after - server_cpu_before
    if tally.sample is None:  # every timed request failed; the warm-up may have a success
        tally.sample = warmup.sample
    return Measurement(server.name, tally, seconds, server_cpu, client_cpu, warmup.first_error)


# --- report ----------------------------------------------------------------------------------


def json_shape(value: Any) -> Any:
    """Keys and value types, lists by their first item: what must match between the servers."""
    if isinstance(value, dict):
        return {key: json_shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [json_shape(value[0])] if value else []
    return type(value).__name__


def problems(results: Sequence[tuple[Scenario, Measurement, Measurement]]) -> list[str]:
    """Errors (the first body of each run) and answers whose shapes differ between servers."""
    found = []
    for scenario, app, bare in results:
        name = f"{scenario.endpoint} (c={scenario.concurrency})"
        found += app.problems(name) + bare.problems(name)
        app_shape, bare_shape = json_shape(app.tally.sample), json_shape(bare.tally.sample)
        if app_shape != bare_shape:
            found.append(f"{name}: the answers differ in shape: app {app_shape}, bare {bare_shape}")
    return found


def installed_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


async def benchmark() -> None:
    clock = machine.Clock()
    busy_before = await machine.machine_busy_share()
    async with db.throwaway_database() as database_url:
        with (
            uvicorn_server("app", APP_TARGET, database_url, CHEAP_SETTINGS) as app,
            uvicorn_server("bare", BARE_TARGET, database_url, CHEAP_SETTINGS) as bare,
        ):
            await wait_until_ready(app, bare)
            headers, ids, long_id = await set_up(app)
            results = []
            for scenario in scenarios(ids, long_id):
                Console(stderr=True).print(
                    f"[dim]{scenario.endpoint} at concurrency {scenario.concurrency}…[/dim]"
                )
                app_run = await measure(app, headers, scenario)
                results.append((scenario, app_run, await measure(bare, headers, scenario)))
            server_output = {server.name: server.output() for server in (app, bare)}
        async with db.connected(database_url) as connection:
            postgres_version = await connection.fetchval("SHOW server_version")
    rows: list[report.Row] = []
    for scenario, app_run, bare_run in results:
        ratio = app_run.rate / bare_run.rate if bare_run.rate else math.nan
        label = [scenario.endpoint, str(scenario.concurrency)]
        rows += [[*label, *app_run.row(), f"{ratio:.2f}"], ["", "", *bare_run.row(), ""], None]
    title = "The application vs a bare Starlette + asyncpg server, same SQL"
    report.print_tables(report.table(title, HEADERS, rows))
    packages = ", ".join(f"{name} {installed_version(name)}" for name in VERSIONED_PACKAGES)
    report.say(
        f"Python {platform.python_version()}, {packages}, PostgreSQL {postgres_version}. "
        "uvicorn runs with --loop auto and --http auto, which pick uvloop and httptools when "
        f"installed; the load generator runs on uvloop too. {machine.CORES} CPUs, "
        f"{busy_before} busy just before the run (other work there skews every figure)."
    )
    found = problems(results)
    for problem in found:
        report.say(f"! {problem}", style="red")
    if not found:
        report.say("No errors; the two servers' answers have the same shape.")
    for name, output in server_output.items():
        if output.strip():
            report.say(f"The {name} server said:\n{output[-3000:]}")
    report.say(f"Took {clock.seconds():.0f} s.")


if __name__ == "__main__":
    run_benchmark(benchmark)
