"""Collections and their videos (the policy: app/services/collections.py)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ARRAY, Uuid, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert

from app.db.models import Collection, CollectionVideo
from app.db.repositories.base import UserListedRepository


@dataclass(frozen=True, slots=True)
class NewCollectionVideo:
    youtube_video_id: str
    position: int
    title: str | None = None
    duration: int | None = None
    unavailable_reason: str | None = None
    job_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class VideoState:
    """One video of a collection as it stands: its transcript if stored, else its job."""

    youtube_video_id: str
    position: int
    title: str | None  # as the listing gave it, else as its transcript has it
    duration: int | None  # seconds, likewise
    unavailable_reason: str | None
    transcript_id: UUID | None
    job_id: UUID | None
    job_status: str | None
    job_error: str | None
    job_error_code: str | None
    job_started_at: datetime | None
    job_finished_at: datetime | None


class CollectionRepository(UserListedRepository[Collection]):
    model = Collection

    async def create(
        self,
        *,
        user_id: UUID,
        name: str,
        kind: str,
        source_url: str | None = None,
        source_id: str | None = None,
    ) -> Collection:
        """A new collection; ConflictError when the user has one of this source already."""
        return await self._insert(
            user_id=user_id, name=name, kind=kind, source_url=source_url, source_id=source_id
        )

    async def of_source(self, user_id: UUID, kind: str, source_id: str) -> Collection | None:
        """The user's collection of this playlist or channel, if there is one."""
        return await self.first(
            select(Collection).where(
                Collection.user_id == user_id,
                Collection.kind == kind,
                Collection.source_id == source_id,
            )
        )

    async def take_turns_deleting(self, user_id: UUID) -> None:
        """Until the transaction ends, the user's other deletions of collections wait."""
        await self._lock_until_commit(f"collection-deletions:{user_id}")

    async def add_videos(self, collection_id: UUID, videos: Sequence[NewCollectionVideo]) -> None:
        """Add videos the collection does not hold yet (one already there is left as it is)."""
        if not videos:
            return
        rows = [
            {
                "collection_id": collection_id,
                "youtube_video_id": video.youtube_video_id,
                "position": video.position,
                "title": video.title,
                "duration": video.duration,
                "unavailable_reason": video.unavailable_reason,
                "job_id": video.job_id,
            }
            for video in videos
        ]
        await self.execute(insert(CollectionVideo).values(rows).on_conflict_do_nothing())

    async def video_ids(self, collection_id: UUID) -> set[str]:
        statement = select(CollectionVideo.youtube_video_id).where(
            CollectionVideo.collection_id == collection_id
        )
        return set((await self.execute(statement)).scalars())

    async def next_position(self, collection_id: UUID) -> int:
        statement = select(func.coalesce(func.max(CollectionVideo.position) + 1, 0)).where(
            CollectionVideo.collection_id == collection_id
        )
        return int((await self.execute(statement)).scalar_one())

    async def record_listing(
        self, collection_id: UUID, *, error: str | None, truncated: bool
    ) -> None:
        await self._set(
            collection_id, listing_error=error, listing_truncated=truncated, refreshed_at=func.now()
        )

    async def record_progress_event(self, collection_id: UUID) -> None:
        await self._set(collection_id, progress_event_at=func.now())

    async def states(self, collection_id: UUID) -> list[VideoState]:
        """Every video of the collection in its order, with its transcript or its job."""
        return (await self.states_of(collection_id))[collection_id]

    async def states_of(self, *collection_ids: UUID) -> dict[UUID, list[VideoState]]:
        """`states` of each collection, in one query."""
        states: dict[UUID, list[VideoState]] = {key: [] for key in collection_ids}
        statement = _STATES.bindparams(collection_ids=list(collection_ids))
        for collection_id, *row in (await self.execute(statement)).all():
            states[collection_id].append(VideoState(*row))
        return states

    async def containing_video(self, user_id: UUID, video_id: str) -> list[UUID]:
        """The user's collections that hold this video."""
        statement = (
            select(CollectionVideo.collection_id)
            .join(Collection, Collection.id == CollectionVideo.collection_id)
            .where(Collection.user_id == user_id, CollectionVideo.youtube_video_id == video_id)
        )
        return list((await self.execute(statement)).scalars())

    async def containing_job(self, job_id: UUID) -> list[UUID]:
        """The collections a job was queued for."""
        statement = select(CollectionVideo.collection_id).where(CollectionVideo.job_id == job_id)
        return list((await self.execute(statement)).scalars())

    async def transcript_ids(self, user_id: UUID, collection_ids: Sequence[UUID]) -> list[UUID]:
        """The user's transcripts of the videos of these collections."""
        statement = _TRANSCRIPTS_OF.bindparams(user_id=user_id, collection_ids=list(collection_ids))
        return list((await self.execute(statement)).scalars())

    async def transcript_ids_held_by_no_other(
        self, user_id: UUID, collection_id: UUID
    ) -> list[UUID]:
        """The user's transcripts of this collection's videos that none of the user's other
        collections holds: what deleting the collection with its videos may delete."""
        statement = _TRANSCRIPTS_ONLY_IN.bindparams(user_id=user_id, collection_id=collection_id)
        return list((await self.execute(statement)).scalars())


# A video is matched to the owner's transcript by its id (however it was stored: by this
# collection's job, an earlier ingest or an upload), else to the job queued for it. A list of
# video links gives no titles or lengths: its videos show their transcripts'.
_STATES = text("""
    SELECT video.collection_id,
           video.youtube_video_id, video.position,
           COALESCE(video.title, transcript.title), COALESCE(video.duration, transcript.duration),
           video.unavailable_reason,
           transcript.id, job.id, job.status, job.error, job.error_code,
           job.started_at, job.finished_at
      FROM collection_videos AS video
      JOIN collections AS collection ON collection.id = video.collection_id
      LEFT JOIN transcripts AS transcript
        ON transcript.user_id = collection.user_id
       AND transcript.youtube_video_id = video.youtube_video_id
      LEFT JOIN jobs AS job ON job.id = video.job_id
     WHERE video.collection_id = ANY(:collection_ids)
     ORDER BY video.collection_id, video.position, video.youtube_video_id
""").bindparams(bindparam("collection_ids", type_=ARRAY(Uuid())))

_TRANSCRIPTS_OF = text("""
    SELECT DISTINCT transcript.id
      FROM collections AS collection
      JOIN collection_videos AS video ON video.collection_id = collection.id
      JOIN transcripts AS transcript
        ON transcript.user_id = collection.user_id
       AND transcript.youtube_video_id = video.youtube_video_id
     WHERE collection.user_id = :user_id AND collection.id = ANY(:collection_ids)
""").bindparams(
    bindparam("user_id", type_=Uuid()), bindparam("collection_ids", type_=ARRAY(Uuid()))
)

_TRANSCRIPTS_ONLY_IN = text("""
    SELECT DISTINCT transcript.id
      FROM collection_videos AS video
      JOIN transcripts AS transcript
        ON transcript.user_id = :user_id
       AND transcript.youtube_video_id = video.youtube_video_id
     WHERE video.collection_id = :collection_id
       AND NOT EXISTS (
           SELECT 1
             FROM collection_videos AS elsewhere
             JOIN collections AS other ON other.id = elsewhere.collection_id
            WHERE other.user_id = :user_id
              AND other.id <> :collection_id
              AND elsewhere.youtube_video_id = video.youtube_video_id)
""").bindparams(bindparam("user_id", type_=Uuid()), bindparam("collection_id", type_=Uuid()))
