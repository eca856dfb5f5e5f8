"""What the application costs per HTTP request next to the bare server doing the same SQL
(harness/bare.py), loaded from an httpx client: two pages of reads, a new conversation, a chat
turn with the offline model and a 10,000-word transcript, at concurrency 10 (the first also at
1), each on one server at a time after a warm-up, set up through the real API. `app/bare` 1.00:
the framework and the data layer cost nothing; `client CPU` near 100 %: the load generator set
the pace (http_wrk.py loads with wrk). About a minute:

    cd backend && .venv/bin/python -m benchmarks.http_load
"""

import asyncio
import itertools
import math
import platform
import random
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NamedTuple

import httpx
from rich.console import Console

from benchmarks.harness import database as db
from benchmarks.harness import machine, report
from benchmarks.harness.api import API, conversations, expect, sign_in
from benchmarks.harness.load import Call, Tally, drive, load_client
from benchmarks.harness.machine import run_benchmark
from benchmarks.harness.servers import (
    APP_TARGET,
    BARE_TARGET,
    Server,
    uvicorn_server,
    wait_until_ready,
)

CONCURRENCY, PAGE_LIMIT, REQUEST_TIMEOUT_SECONDS = 10, 20, 30.0
MEASURE_SECONDS, WARMUP_SECONDS = 8.0, 1.0
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
TOPIC_WORDS, TOPIC_SHARE, SECONDS_PER_WORD = 3_000, 0.3, 0.4
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
VERSIONED_PACKAGES = ("uvicorn", "uvloop", "httptools", "fastapi", "starlette", "pydantic",
                      "sqlalchemy", "asyncpg", "httpx")  # fmt: skip

# endpoint, concurrency, requests at most, warm-up requests at most, the next request
Scenario = tuple[str, int, int, int, Callable[[], Call]]


class Measurement(NamedTuple):
    server: str
    tally: Tally
    seconds: float
    server_cpu: float | None
    client_cpu: float
    warmup_error: str | None


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
        duration = length * SECONDS_PER_WORD
        segments.append({"text": " ".join(sentence).capitalize() + ".", "start": round(start, 1),
                         "duration": duration})  # fmt: skip
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
            body = {
                "video": f"topic{topic:06d}",
                "title": title,
                "segments": topic_segments(topic, words),
            }
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
    text = " ".join(words.choice(VOCABULARY_TEXT.split()) for _ in range(TRANSCRIPT_WORDS))
    return [
        ("GET /conversations", 1, 2_000, 100, lambda: list_page),
        ("GET /conversations", CONCURRENCY, 2_000, 100, lambda: list_page),
        ("GET /conversations/{id}/messages", CONCURRENCY, 2_000, 100, lambda: messages_page),
        # After the reads: every conversation it creates joins the user's list.
        ("POST /conversations", CONCURRENCY, 1_000, 50, lambda: new_conversation),
        ("POST /conversations/{id}/messages", CONCURRENCY, 1_000, 50,
         lambda: Call("POST", f"{API}/conversations/{next(targets)}/messages",
                      {"content": next(questions)})),
        # Last: the chunks it stores would join the searches of any scenario after it.
        ("POST /transcripts", CONCURRENCY, 60, 4,
         lambda: Call("POST", f"{API}/transcripts",
                      {"video": next(video_ids), "title": "A talk", "transcript_text": text})),
    ]  # fmt: skip


async def measure(server: Server, headers: dict[str, str], scenario: Scenario) -> Measurement:
    _, concurrency, max_requests, warmup_requests, next_call = scenario
    server.check_running()
    async with load_client(
        server.base_url, concurrency, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:
        # The warm-up opens the keep-alive connections and the servers' pooled database
        # connections, and fills their prepared-statement caches.
        warmup = await drive(client, next_call, concurrency, warmup_requests, WARMUP_SECONDS)
        server_cpu_before = machine.process_cpu_seconds(server.process.pid)
        client_cpu_before, started = time.process_time(), time.perf_counter()
        tally = await drive(client, next_call, concurrency, max_requests, MEASURE_SECONDS)
        seconds = time.perf_counter() - started
        client_cpu = time.process_time() - client_cpu_before
        server_cpu_after = machine.process_cpu_seconds(server.process.pid)
    server.check_running()
    server_cpu = None
    if server_cpu_before is not None and server_cpu_after is not None:
        server_cpu = server_cpu_after - server_cpu_before
    if tally.sample is None:  # every timed request failed; the warm-up may have a success
        tally.sample = warmup.sample
    return Measurement(server.name, tally, seconds, server_cpu, client_cpu, warmup.first_error)


def cells(measurement: Measurement) -> list[str]:
    name, tally, seconds, server_cpu, client_cpu, _ = measurement
    requests = len(tally.latencies)
    cpu = f"{server_cpu * 1000 / requests:.2f}" if server_cpu is not None and requests else "-"
    latencies = report.percentiles(tally.latencies, (0.5, 0.99))[:2] if requests else ["-", "-"]
    return [name, f"{requests:,}", f"{requests / seconds:,.0f}", *latencies, str(tally.errors),
            cpu, f"{client_cpu / seconds:.0%}"]  # fmt: skip


def json_shape(value: Any) -> Any:
    """Keys and value types, lists by their first item: what must match between the servers."""
    if isinstance(value, dict):
        return {key: json_shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [json_shape(value[0])] if value else []
    return type(value).__name__


def problems(name: str, app: Measurement, bare: Measurement) -> list[str]:
    """Errors (the first body of each run) and answers whose shapes differ between servers."""
    found = []
    for server, tally, *_, warmup_error in (app, bare):
        where = f"{name} on {server}"
        if tally.first_error:
            found.append(f"{where}: {tally.errors} errors, the first: {tally.first_error}")
        if warmup_error:
            found.append(f"{where}, during the warm-up: {warmup_error}")
    shapes = json_shape(app.tally.sample), json_shape(bare.tally.sample)
    if shapes[0] != shapes[1]:
        found.append(f"{name}: the answers differ in shape: app {shapes[0]}, bare {shapes[1]}")
    return found


def installed_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


async def benchmark() -> None:
    clock, busy_before = machine.Clock(), await machine.machine_busy_share()
    rows: list[report.Row] = []
    found: list[str] = []
    async with db.throwaway_database() as database_url:
        with (
            uvicorn_server("app", APP_TARGET, database_url) as app,
            uvicorn_server("bare", BARE_TARGET, database_url) as bare,
        ):
            await wait_until_ready(app, bare)
            headers, ids, long_id = await set_up(app)
            for scenario in scenarios(ids, long_id):
                endpoint, concurrency = scenario[:2]
                Console(stderr=True).print(f"[dim]{endpoint} at concurrency {concurrency}…[/dim]")
                app_run = await measure(app, headers, scenario)
                bare_run = await measure(bare, headers, scenario)
                rates = [len(run.tally.latencies) / run.seconds for run in (app_run, bare_run)]
                ratio = rates[0] / rates[1] if rates[1] else math.nan
                label = [endpoint, str(concurrency)]
                rows += [
                    [*label, *cells(app_run), f"{ratio:.2f}"],
                    ["", "", *cells(bare_run), ""],
                    None,
                ]
                found += problems(f"{endpoint} (c={concurrency})", app_run, bare_run)
            server_output = {server.name: server.output() for server in (app, bare)}
        async with db.connected(database_url) as connection:
            postgres_version = await connection.fetchval("SHOW server_version")
    report.print_tables(report.table(
        "The application vs a bare Starlette + asyncpg server, same SQL",
        ("endpoint", "c", "server", "requests", "req/s", "p50 ms", "p99 ms", "errors",
         "server CPU ms/req", "client CPU", "app/bare"),
        rows,
    ))  # fmt: skip
    packages = ", ".join(f"{name} {installed_version(name)}" for name in VERSIONED_PACKAGES)
    report.say(
        f"Python {platform.python_version()}, {packages}, PostgreSQL {postgres_version}. "
        "uvicorn runs with --loop auto and --http auto, which pick uvloop and httptools when "
        f"installed; the load generator runs on uvloop too. {machine.CORES} CPUs, "
        f"{busy_before} busy just before the run (other work there skews every figure)."
    )
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
