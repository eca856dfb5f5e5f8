"""Collections: a playlist's or a channel's videos (listed by yt-dlp's real extractor from
replayed pages), one ingest job each, their progress, and the webhook events it makes."""

import dataclasses
import json
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.routes import collections as collection_routes
from app.core.config import get_settings
from app.db.models import WebhookDelivery
from app.services.youtube.listing import YouTubeLister
from testkit.replay_http import ReplayResponse
from testkit.youtube_collections import (
    BROKEN_PLAYLIST,
    FIFTY_TALKS,
    MISSING_PLAYLIST_ID,
    TALKS_CHANNEL,
    ReplayPlaylist,
    entries,
)
from testkit.youtube_listing_replay import (
    ReplayRH,
    channel_routes,
    failing_page_routes,
    missing_playlist_routes,
    playlist_routes,
)
from testkit.youtube_video_artefacts import ReplayVideo
from tests.api.conftest import (
    Account,
    assert_error,
    build_app,
    client_for,
    savepoint_unit_of_work,
)
from tests.api.ingesting import worker_for
from tests.api.test_webhooks import LOCAL, register

COLLECTIONS = "/api/v1/collections"
PLAYLIST_LINK = f"https://www.youtube.com/playlist?list={FIFTY_TALKS.playlist_id}"
SHORT = ReplayPlaylist(
    playlist_id="PLrEpLaYsHoRtCoUrSe00000000000000",
    title="A short course",
    owner=TALKS_CHANNEL,
    videos=entries("sc", 3),
)
SHORT_LINK = f"https://www.youtube.com/playlist?list={SHORT.playlist_id}"

Lists = Callable[..., httpx.AsyncClient]


@pytest.fixture
def listing_app(session: AsyncSession) -> Callable[..., FastAPI]:
    """An app of the test's own whose lister answers from replayed YouTube pages."""

    def make(*playlists: ReplayPlaylist, **settings: Any) -> FastAPI:
        app = build_app(session, **LOCAL, **settings)
        routes = [route for playlist in playlists for route in playlist_routes(playlist)]
        routes += channel_routes(TALKS_CHANNEL) + missing_playlist_routes(MISSING_PLAYLIST_ID)
        app.state.video_lister = YouTubeLister(transport=ReplayRH(routes))
        return app

    return make


async def create(client: httpx.AsyncClient, account: Account, **body: Any) -> httpx.Response:
    return await client.post(COLLECTIONS, json=body, headers=account.headers)


def video(entry_id: str, title: str = "A lesson") -> ReplayVideo:
    captions = [(i * 4.0, 4.0, f"Lesson sentence {i} about {title}.") for i in range(20)]
    return ReplayVideo(
        video_id=entry_id, title=title, channel_name="Replay Talks", captions=captions
    )


async def test_a_playlist_becomes_a_collection_with_a_job_per_video(
    listing_app: Callable[..., FastAPI], alice: Account
) -> None:
    async with client_for(listing_app(FIFTY_TALKS)) as client:
        created = await create(client, alice, url=PLAYLIST_LINK)
        jobs = await client.get("/api/v1/jobs", params={"limit": 100}, headers=alice.headers)
        listed = await client.get(COLLECTIONS, headers=alice.headers)

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == FIFTY_TALKS.title
    assert body["kind"] == "playlist"
    assert body["progress"] | {"eta_seconds": None} == {
        "total": 50,
        "done": 0,
        "failed": 2,
        "pending": 48,
        "ready": False,
        "eta_seconds": None,
    }
    assert body["progress"]["eta_seconds"] > 0
    failed = {v["video_id"]: v["reason"] for v in body["videos"] if v["status"] == "failed"}
    assert sorted(failed) == [FIFTY_TALKS.videos[6].video_id, FIFTY_TALKS.videos[40].video_id]
    assert all(reason for reason in failed.values())
    assert [v["video_id"] for v in body["videos"]] == [e.video_id for e in FIFTY_TALKS.videos]
    assert [v["duration_seconds"] for v in body["videos"] if v["status"] == "pending"] == [
        e.duration for e in FIFTY_TALKS.videos if e.availability == "public"
    ]
    assert jobs.json()["total"] == 48
    assert listed.json()["items"][0]["progress"]["pending"] == 48


async def test_videos_already_stored_are_done_at_once_and_not_counted(
    listing_app: Callable[..., FastAPI], alice: Account
) -> None:
    first = SHORT.videos[0].video_id
    async with client_for(listing_app(SHORT, limit_ingests_per_hour=3)) as client:
        stored = await client.post(
            "/api/v1/transcripts",
            json={"video": first, "transcript_text": "Already here. " * 20},
            headers=alice.headers,
        )
        created = await create(client, alice, url=SHORT_LINK)

    assert stored.status_code == 201
    assert created.status_code == 201, created.text  # two to fetch: fits the three an hour
    progress = created.json()["progress"]
    assert (progress["done"], progress["pending"]) == (1, 2)


async def test_videos_that_do_not_fit_the_ingest_limit_are_refused_whole(
    listing_app: Callable[..., FastAPI], alice: Account
) -> None:
    async with client_for(listing_app(FIFTY_TALKS, limit_ingests_per_hour=10)) as client:
        refused = await create(client, alice, url=PLAYLIST_LINK)
        listed = await client.get(COLLECTIONS, headers=alice.headers)

    error = assert_error(refused, 422, "validation_error")  # 48 can never fit 10 an hour
    assert error["details"][0]["type"] == "ingests_per_hour"
    assert listed.json()["total"] == 0


async def test_a_channel_past_the_cap_and_a_listing_cut_midway_say_so(
    listing_app: Callable[..., FastAPI], alice: Account
) -> None:
    async with client_for(listing_app(BROKEN_PLAYLIST, collection_max_videos=20)) as client:
        channel = await create(client, alice, url="https://www.youtube.com/@replaytalks")
    cap = {"collection_max_videos": 120, "limit_ingests_per_hour": 0}
    async with client_for(listing_app(BROKEN_PLAYLIST, **cap)) as client:
        broken = await create(client, alice, url=BROKEN_PLAYLIST.playlist_id)

    assert channel.status_code == 201, channel.text
    assert channel.json()["listing_truncated"] is True
    assert channel.json()["progress"]["total"] == 20
    assert broken.status_code == 201, broken.text
    assert broken.json()["listing_error"]
    assert broken.json()["progress"]["total"] == 100  # the first page's videos stay


async def test_bad_links_and_missing_playlists_are_refused_naming_the_field(
    listing_app: Callable[..., FastAPI], alice: Account
) -> None:
    async with client_for(listing_app()) as client:
        single = await create(client, alice, url="https://youtu.be/dQw4w9WgXcQ")
        missing = await create(client, alice, url=MISSING_PLAYLIST_ID)
        both = await create(client, alice, url=SHORT_LINK, videos=["dQw4w9WgXcQ"])
        bad_video = await create(client, alice, videos=["dQw4w9WgXcQ", "not a video"])

    for response in (single, missing):
        error = assert_error(response, 422, "validation_error")
        assert error["details"][0]["field"] == "body.url"
    assert_error(both, 422, "validation_error")
    assert assert_error(bad_video, 422, "validation_error")["details"][0]["field"] == (
        "body.videos"
    )


async def deliveries(session: AsyncSession, event_type: str) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(WebhookDelivery.payload).where(WebhookDelivery.event_type == event_type)
    )
    return [row["data"] for row in rows]


async def test_jobs_move_the_progress_and_tell_webhooks_until_ready(
    listing_app: Callable[..., FastAPI], alice: Account, session: AsyncSession
) -> None:
    ids = [entry.video_id for entry in SHORT.videos]
    app = listing_app(SHORT, collection_progress_event_seconds=3600)
    async with client_for(app) as client:
        await register(client, alice, events=["collection.progress", "collection.ready"])
        created = (await create(client, alice, url=SHORT_LINK, name="Course")).json()
        worker = worker_for(session, *(video(video_id) for video_id in ids))
        for _ in ids:
            assert await worker.run_once()
        after = (await client.get(f"{COLLECTIONS}/{created['id']}", headers=alice.headers)).json()

    assert after["progress"] == {
        "total": 3,
        "done": 3,
        "failed": 0,
        "pending": 0,
        "ready": True,
        "eta_seconds": None,
    }
    assert all(v["transcript_id"] for v in after["videos"])
    progress = await deliveries(session, "collection.progress")
    ready = await deliveries(session, "collection.ready")
    # One when it was made; the jobs' were throttled (one an hour at most here).
    assert [event["done"] for event in progress] == [0]
    assert ready == [
        {
            "collection_id": created["id"],
            "name": "Course",
            "total": 3,
            "done": 3,
            "failed": 0,
            "pending": 0,
            "ready": True,
        }
    ]


async def test_a_refresh_adds_only_the_new_videos(
    listing_app: Callable[..., FastAPI], alice: Account
) -> None:
    grown = dataclasses.replace(SHORT, videos=entries("sc", 5))
    async with client_for(listing_app(SHORT)) as client:
        created = (await create(client, alice, url=SHORT_LINK)).json()
        twice = await create(client, alice, url=SHORT_LINK)
    async with client_for(listing_app(grown)) as client:
        refreshed = await client.post(
            f"{COLLECTIONS}/{created['id']}/refresh", headers=alice.headers
        )
        again = await client.post(f"{COLLECTIONS}/{created['id']}/refresh", headers=alice.headers)

    assert created["id"] in assert_error(twice, 409, "conflict")["message"]
    assert refreshed.status_code == 200, refreshed.text
    assert (refreshed.json()["added"], refreshed.json()["queued"]) == (2, 2)
    assert refreshed.json()["collection"]["progress"]["total"] == 5
    assert (again.json()["added"], again.json()["queued"]) == (0, 0)


async def test_a_collection_is_renamed_and_deleted_with_or_without_its_videos(
    listing_app: Callable[..., FastAPI], alice: Account, bob: Account
) -> None:
    async with client_for(listing_app()) as client:
        for video_id in ("Keep0000001", "Drop0000001"):
            await client.post(
                "/api/v1/transcripts",
                json={"video": video_id, "transcript_text": "Words. " * 20},
                headers=alice.headers,
            )
        keep = (await create(client, alice, videos=["Keep0000001"])).json()
        drop = (await create(client, alice, videos=["Drop0000001"], name="Drop")).json()
        renamed = await client.patch(
            f"{COLLECTIONS}/{keep['id']}", json={"name": "Kept"}, headers=alice.headers
        )
        foreign = await client.get(f"{COLLECTIONS}/{keep['id']}", headers=bob.headers)
        await client.delete(f"{COLLECTIONS}/{keep['id']}", headers=alice.headers)
        await client.delete(
            f"{COLLECTIONS}/{drop['id']}", params={"delete_videos": True}, headers=alice.headers
        )
        left = await client.get("/api/v1/transcripts", headers=alice.headers)

    assert keep["progress"]["ready"] is True  # stored already: done at once
    assert renamed.json()["name"] == "Kept"
    assert_error(foreign, 404, "not_found")
    assert [t["youtube_video_id"] for t in left.json()["items"]] == ["Keep0000001"]


async def test_the_event_stream_tells_the_progress_and_ends_when_ready(
    listing_app: Callable[..., FastAPI], alice: Account
) -> None:
    async with client_for(listing_app()) as client:
        await client.post(
            "/api/v1/transcripts",
            json={"video": "Done0000001", "transcript_text": "Words. " * 20},
            headers=alice.headers,
        )
        created = (await create(client, alice, videos=["Done0000001"])).json()
        stream = await client.get(f"{COLLECTIONS}/{created['id']}/events", headers=alice.headers)

    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [block.split("\n")[0] for block in stream.text.strip().split("\n\n")]
    assert events == ["event: progress", "event: ready"]


async def test_the_event_stream_of_a_collection_deleted_meanwhile_ends_with_not_found(
    listing_app: Callable[..., FastAPI],
    alice: Account,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not with `ready` and a progress of nothing, which would read as a success."""
    monkeypatch.setattr(collection_routes, "STREAM_POLL_SECONDS", 0)
    async with client_for(listing_app()) as client:
        created = (await create(client, alice, videos=["Pend0000001"])).json()
        reads = asynccontextmanager(savepoint_unit_of_work(session))
        events = collection_routes.progress_events(uuid.UUID(created["id"]), reads, get_settings())
        first = await anext(events)
        deleted = await client.delete(f"{COLLECTIONS}/{created['id']}", headers=alice.headers)
        last = await anext(events)

    assert first.startswith(b"event: progress")
    assert deleted.status_code == 204
    name, data = last.decode().strip().split("\n")
    assert name == "event: error"
    assert json.loads(data.removeprefix("data: "))["error"]["code"] == "not_found"
    with pytest.raises(StopAsyncIteration):
        await anext(events)


async def test_deleting_a_collection_with_its_videos_keeps_those_another_collection_holds(
    listing_app: Callable[..., FastAPI], alice: Account
) -> None:
    async with client_for(listing_app()) as client:
        for video_id in ("Both0000001", "Only0000001"):
            await client.post(
                "/api/v1/transcripts",
                json={"video": video_id, "transcript_text": "Words. " * 20},
                headers=alice.headers,
            )
        kept = (await create(client, alice, videos=["Both0000001"])).json()
        dropped = (await create(client, alice, videos=["Both0000001", "Only0000001"])).json()
        await client.delete(
            f"{COLLECTIONS}/{dropped['id']}", params={"delete_videos": True}, headers=alice.headers
        )
        left = await client.get("/api/v1/transcripts", headers=alice.headers)
        still = await client.get(f"{COLLECTIONS}/{kept['id']}", headers=alice.headers)

    assert [t["youtube_video_id"] for t in left.json()["items"]] == ["Both0000001"]
    assert still.json()["progress"]["done"] == 1  # its video was not deleted from under it


async def test_a_server_that_cannot_reach_youtube_is_not_the_links_fault(
    session: AsyncSession, alice: Account
) -> None:
    """No way to YouTube from here is lasting, yet not the body's fault: 502, not a 422 on
    `body.url` telling the person to fix a link that is fine."""
    app = build_app(session, **LOCAL)
    page = f"https://www.youtube.com/playlist?list={FIFTY_TALKS.playlist_id}"
    unreachable = failing_page_routes(page, ReplayResponse(network_failure="dns"))
    app.state.video_lister = YouTubeLister(transport=ReplayRH(unreachable))
    async with client_for(app) as client:
        refused = await create(client, alice, url=page)

    assert "DNS" in assert_error(refused, 502, "bad_gateway")["message"]


async def test_a_collection_larger_than_the_ingests_per_hour_is_told_to_ask_for_less(
    listing_app: Callable[..., FastAPI], alice: Account
) -> None:
    """No wait would admit 3 videos at once under a limit of 2: a 429 with an hour's
    Retry-After would send the client to try the same thing again in vain."""
    async with client_for(listing_app(limit_ingests_per_hour=2)) as client:
        refused = await create(client, alice, videos=["One00000001", "Two00000001", "Thr00000001"])
        fits = await create(client, alice, videos=["One00000001", "Two00000001"])

    error = assert_error(refused, 422, "validation_error")
    assert "send at most 2 at a time" in error["message"]
    assert "Retry-After" not in refused.headers
    assert fits.status_code == 201, fits.text


async def test_a_listed_video_shows_its_transcripts_title_and_length(
    listing_app: Callable[..., FastAPI], alice: Account
) -> None:
    """A list of links gives no titles: a stored video is shown as its transcript has it."""
    async with client_for(listing_app()) as client:
        await client.post(
            "/api/v1/transcripts",
            json={
                "video": "Titled00001",
                "title": "Feeding a starter",
                "transcript_text": "Words. " * 20,
                "duration": 95,
            },
            headers=alice.headers,
        )
        created = (await create(client, alice, videos=["Titled00001"])).json()
        shown = (await client.get(f"{COLLECTIONS}/{created['id']}", headers=alice.headers)).json()

    (video,) = shown["videos"]
    assert (video["title"], video["duration_seconds"]) == ("Feeding a starter", 95)


async def test_a_video_uploaded_for_a_collection_tells_its_webhooks(
    listing_app: Callable[..., FastAPI], alice: Account, session: AsyncSession
) -> None:
    """Its job could not fetch it (or has not yet): the upload makes the video done, and the
    collection's webhooks hear of it as they would of the job."""
    async with client_for(listing_app()) as client:
        await register(client, alice, events=["collection.progress", "collection.ready"])
        created = (await create(client, alice, videos=["Uplo0000001"], name="Mine")).json()
        uploaded = await client.post(
            "/api/v1/transcripts",
            json={"video": "Uplo0000001", "transcript_text": "Words. " * 20},
            headers=alice.headers,
        )

    assert uploaded.status_code == 201, uploaded.text
    assert created["progress"]["ready"] is False
    ready = await deliveries(session, "collection.ready")
    assert [(event["collection_id"], event["done"]) for event in ready] == [(created["id"], 1)]
