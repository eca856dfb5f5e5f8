"""Collections and chapters against their targets, on a live server with YouTube replayed: a
50-video playlist listed and its 48 jobs queued (< 2 s, beside one single ingest); the time
from each job's end to the progress event counting it (≤ 1 s); the chapters of a one-hour talk
with its vectors in, found again on the read (≤ 5 s).

    cd backend && .venv/bin/python -m benchmarks.collections
"""

import asyncio
import json
import statistics
import time
import uuid

import httpx

from benchmarks.harness import database as db
from benchmarks.harness import report
from benchmarks.harness.api import API, expect, sign_in
from benchmarks.harness.machine import Clock, run_benchmark
from benchmarks.harness.servers import free_port, server_process, wait_until_ready
from benchmarks.harness.timing import timed
from testkit.corpus import load_talks
from testkit.youtube_collections import FIFTY_TALKS

PLAYLIST = f"https://www.youtube.com/playlist?list={FIFTY_TALKS.playlist_id}"
USERS, HOUR_SECONDS = 5, 3600.0


async def listing_times(client: httpx.AsyncClient) -> tuple[list[float], list[float]]:
    collections, singles = [], []
    for user in range(USERS):
        headers = await sign_in(client, f"lister{user}")
        body = {"url": PLAYLIST}
        response, seconds = await timed(
            client.post(f"{API}/collections", json=body, headers=headers)
        )
        assert response.status_code == 201, response.text
        assert response.json()["progress"]["pending"] == 48
        collections.append(seconds)
        body = {"video": "Lesson00002"}
        singles.append(
            (await timed(client.post(f"{API}/transcripts/ingest", json=body, headers=headers)))[1]
        )
    return collections, singles


async def event_lags(client: httpx.AsyncClient, database_url: str) -> list[float]:
    """Seconds from each job's end to the first event that counts it, while the worker runs."""
    headers = await sign_in(client, "follower")
    body = {"url": PLAYLIST}
    created = await expect(client.post(f"{API}/collections", json=body, headers=headers), 201)
    arrivals: list[tuple[float, int]] = []
    path = f"{API}/collections/{created['id']}/events"
    async with client.stream("GET", path, headers=headers, timeout=600) as stream:
        event = ""
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = json.loads(line.split(":", 1)[1])
                arrivals.append((time.time(), data["done"] + data["failed"]))
                if event == "ready":
                    break
    async with db.connected(database_url) as connection:
        rows = await connection.fetch(
            "SELECT job.finished_at FROM collection_videos AS video "
            "JOIN jobs AS job ON job.id = video.job_id "
            "WHERE video.collection_id = $1 AND job.finished_at IS NOT NULL",
            uuid.UUID(created["id"]),
        )
    finished = sorted(row["finished_at"].timestamp() for row in rows)
    return [
        next(arrived for arrived, count in arrivals if count >= settled + 2) - ended
        for settled, ended in enumerate(finished, start=1)
    ]


def hour_of_speech() -> list[dict[str, float | str]]:
    """The labelled English talks' captions, one after another, up to an hour."""
    segments: list[dict[str, float | str]] = []
    offset = 0.0
    for talk in (talk for talk in load_talks() if talk.language == "en"):
        for segment in talk.segments:
            if (start := offset + segment.start) >= HOUR_SECONDS:
                return segments
            segments.append({"text": segment.text, "start": start, "duration": segment.duration})
        offset = float(segments[-1]["start"]) + 5.0
    return segments


async def chapter_seconds(client: httpx.AsyncClient, database_url: str) -> float:
    headers = await sign_in(client, "outliner")
    body = {"video": "HourOfTalk1", "segments": hour_of_speech()}
    request = client.post(f"{API}/transcripts", json=body, headers=headers, timeout=120)
    transcript = uuid.UUID((await expect(request, 201))["id"])
    while True:  # the embed job: vectors, then chapters
        jobs = await expect(client.get(f"{API}/jobs", headers=headers), 200)
        if all(job["status"] in ("done", "failed") for job in jobs["items"]):
            break
        await asyncio.sleep(0.5)
    async with db.connected(database_url) as connection:
        await connection.execute("DELETE FROM chapters WHERE transcript_id = $1", transcript)
        await connection.execute(
            "UPDATE transcripts SET chapters_source = NULL WHERE id = $1", transcript
        )
    path = f"{API}/transcripts/{transcript}/chapters"
    response, seconds = await timed(client.get(path, headers=headers, timeout=60))
    assert response.status_code == 200, response.text
    assert response.json()["chapters"], response.text
    return seconds


async def benchmark() -> None:
    clock = Clock()
    async with db.throwaway_database() as database_url:
        port = free_port()
        # LIMIT_INGESTS_PER_HOUR: every user adds 48 videos, some twice.
        environment = {"DATABASE_URL": database_url, "JOB_WORKERS": "1", "LOG_LEVEL": "warning",
                       "LIMIT_INGESTS_PER_HOUR": "0"}  # fmt: skip
        arguments = ["-m", "testkit.replayed_server", str(port)]
        with server_process("replayed", arguments, environment, port) as server:
            await wait_until_ready(server)
            async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
                collections, singles = await listing_times(client)
                lags = await event_lags(client, database_url)
                chapters = await chapter_seconds(client, database_url)
    worst, median = max(collections), statistics.median(collections)
    rows = [
        ("50-video playlist listed, 48 jobs queued (POST /collections)",
         f"median {median:.2f} s, worst {worst:.2f} s "
         f"(one ingest POST: {statistics.median(singles) * 1000:.0f} ms)", "< 2 s", worst < 2.0),
        ("progress event after a job ends",
         f"median {statistics.median(lags):.2f} s, worst {max(lags):.2f} s ({len(lags)} jobs)",
         "≤ 1 s", max(lags) <= 1.0),
        ("chapters of a one-hour talk, vectors in", f"{chapters:.2f} s", "≤ 5 s", chapters <= 5),
    ]  # fmt: skip
    report.print_tables(report.table(
        "Collections and chapters", ("measure", "figure", "target", "result"),
        [[*texts, report.verdict(passed)] for *texts, passed in rows],
    ), clock.closing())  # fmt: skip


if __name__ == "__main__":
    run_benchmark(benchmark)
