"""Deletions sent together, on the real database, each request its own transaction: they
answer as the same deletions sent one after the other do, and leave what those would."""

import asyncio

import httpx

from app.db.session import Database
from tests.api.conftest import Account, signed_up_on_the_database

TRANSCRIPTS = "/api/v1/transcripts"
COLLECTIONS = "/api/v1/collections"


async def store(client: httpx.AsyncClient, account: Account, video: str) -> str:
    stored = await client.post(
        TRANSCRIPTS,
        json={"video": video, "transcript_text": "Feed your starter twice a day. " * 5},
        headers=account.headers,
    )
    assert stored.status_code == 201, stored.text
    return str(stored.json()["id"])


async def test_the_same_delete_sent_twice_at_once_is_204_then_404(database: Database) -> None:
    async with signed_up_on_the_database(database) as (client, account):
        outcomes = []
        for n in range(5):
            transcript = await store(client, account, f"twiceGone{n:02d}")
            deletions = await asyncio.gather(
                *(
                    client.delete(f"{TRANSCRIPTS}/{transcript}", headers=account.headers)
                    for _ in range(2)
                )
            )
            outcomes.append(sorted(deletion.status_code for deletion in deletions))

    assert outcomes == [[204, 404]] * 5


async def test_collections_sharing_videos_deleted_at_once_with_them_leave_none(
    database: Database,
) -> None:
    """Each deletion would see the other collection still holding the videos, and keep them."""
    async with signed_up_on_the_database(database) as (client, account):
        outcomes = [await delete_two_sharing(client, account, round_) for round_ in range(4)]

    assert outcomes == [([204, 204], [404, 404])] * 4


async def delete_two_sharing(
    client: httpx.AsyncClient, account: Account, round_: int
) -> tuple[list[int], list[int]]:
    """Two collections of the same two videos, deleted at once with their videos: how each
    deletion answered, and what a read of each video answers after."""
    videos = [f"shared{round_:02d}v{n:02d}" for n in range(2)]
    transcripts = [await store(client, account, video) for video in videos]
    collections = [
        await client.post(COLLECTIONS, json={"videos": videos}, headers=account.headers)
        for _ in range(2)
    ]
    assert [c.status_code for c in collections] == [201, 201], collections[0].text
    deletions = await asyncio.gather(
        *(
            client.delete(
                f"{COLLECTIONS}/{c.json()['id']}",
                params={"delete_videos": "true"},
                headers=account.headers,
            )
            for c in collections
        )
    )
    left = [
        (await client.get(f"{TRANSCRIPTS}/{t}", headers=account.headers)).status_code
        for t in transcripts
    ]
    return [d.status_code for d in deletions], left
