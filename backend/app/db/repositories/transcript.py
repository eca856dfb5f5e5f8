from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import func, select

from app.db.models import Transcript
from app.db.repositories.base import UserListedRepository


class TranscriptRepository(UserListedRepository[Transcript]):
    model = Transcript

    async def create(
        self,
        *,
        user_id: UUID,
        youtube_video_id: str,
        transcript_text: str,
        word_count: int | None = None,
        language: str | None = None,
        title: str | None = None,
        channel_name: str | None = None,
        duration: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Transcript:
        """A new transcript; ConflictError if this user already has this video."""
        return await self._insert(
            user_id=user_id,
            youtube_video_id=youtube_video_id,
            transcript_text=transcript_text,
            word_count=len(transcript_text.split()) if word_count is None else word_count,
            language=language,
            title=title,
            channel_name=channel_name,
            duration=duration,
            meta=metadata or {},
        )

    async def lock_library(self, user_id: UUID) -> None:
        """Serialise the user's stores until the transaction ends, so that two transcripts
        stored at once cannot both fit under the quota the pair exceeds."""
        await self._lock_until_commit(f"library:{user_id}")

    async def has_any(self, user_id: UUID) -> bool:
        """Whether the user has stored any transcript."""
        stored = select(Transcript.id).where(Transcript.user_id == user_id).exists()
        return bool((await self.execute(select(stored))).scalar())

    async def words_stored(self, user_id: UUID) -> int:
        """Words of every transcript the user holds (their quota's use)."""
        statement = select(func.coalesce(func.sum(Transcript.word_count), 0)).where(
            Transcript.user_id == user_id
        )
        return int((await self.execute(statement)).scalar_one())

    async def delete_for_user(self, user_id: UUID, transcript_ids: Sequence[UUID]) -> int:
        """Delete these transcripts of the user's (their chunks and passages go with them)."""
        if not transcript_ids:
            return 0
        return await self.delete_where(
            Transcript.user_id == user_id, Transcript.id.in_(transcript_ids)
        )

    async def stored_video_ids(self, user_id: UUID, video_ids: Sequence[str]) -> set[str]:
        """Which of these videos the user has a transcript of."""
        if not video_ids:
            return set()
        statement = select(Transcript.youtube_video_id).where(
            Transcript.user_id == user_id, Transcript.youtube_video_id.in_(video_ids)
        )
        return set((await self.execute(statement)).scalars())

    async def get_by_video_id(self, user_id: UUID, video_id: str) -> Transcript | None:
        """This user's transcript of this video, or None."""
        statement = select(Transcript).where(
            Transcript.user_id == user_id, Transcript.youtube_video_id == video_id
        )
        return await self.first(statement)
