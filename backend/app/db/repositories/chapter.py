"""A transcript's chapters and summary (the policy: app/services/chapters/)."""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Uuid, bindparam, delete, select, text, update

from app.db.models import Chapter, Transcript
from app.db.repositories.base import BaseRepository


@dataclass(frozen=True, slots=True)
class NewChapter:
    title: str
    start_seconds: float
    end_seconds: float | None
    summary: str


@dataclass(frozen=True, slots=True)
class OutlinePassage:
    """A passage as chapters are found from it: where it is, its words, its vector if any."""

    chunk_index: int
    passage_index: int
    start_seconds: float | None
    end_seconds: float | None
    text: str
    vector: list[float] | None


class ChapterRepository(BaseRepository[Chapter]):
    model = Chapter

    async def for_transcript(self, transcript_id: UUID) -> Sequence[Chapter]:
        statement = (
            select(Chapter)
            .where(Chapter.transcript_id == transcript_id)
            .order_by(Chapter.chapter_index)
        )
        return await self.scalars(statement)

    async def replace(
        self,
        transcript: Transcript,
        chapters: Sequence[NewChapter],
        *,
        summary: str,
        source: str,
    ) -> None:
        """The transcript's chapters, summary and their source, all at once. Writers of one
        transcript take turns on its row (the embed job, and a first read before it finished):
        the later one replaces the earlier one's outline whole, instead of meeting its rows."""
        await self.execute(
            select(Transcript.id).where(Transcript.id == transcript.id).with_for_update()
        )
        await self.execute(delete(Chapter).where(Chapter.transcript_id == transcript.id))
        if chapters:
            rows = [
                {
                    "transcript_id": transcript.id,
                    "user_id": transcript.user_id,
                    "chapter_index": index,
                    "title": chapter.title[:300],
                    "start_seconds": chapter.start_seconds,
                    "end_seconds": chapter.end_seconds,
                    "summary": chapter.summary,
                }
                for index, chapter in enumerate(chapters)
            ]
            await self._insert_rows(rows)
        await self.execute(
            update(Transcript)
            .where(Transcript.id == transcript.id)
            .values(summary=summary, chapters_source=source)
            .execution_options(synchronize_session=False)
        )

    async def outline_passages(
        self, transcript_id: UUID, model_name: str | None
    ) -> list[OutlinePassage]:
        """The transcript's passages in order, each with its vector of `model_name` (None when
        it has none, or no model is named)."""
        statement = _OUTLINE_PASSAGES.bindparams(
            transcript_id=transcript_id, model=model_name or ""
        )
        rows = (await self.execute(statement)).all()
        return [OutlinePassage(*row) for row in rows]


_OUTLINE_PASSAGES = text("""
    SELECT chunk.chunk_index, passage.passage_index, passage.start_seconds,
           passage.end_seconds, passage.passage_text,
           CAST(embedding.embedding AS real[])
      FROM passages AS passage
      JOIN chunks AS chunk ON chunk.id = passage.chunk_id
      LEFT JOIN passage_embeddings AS embedding
        ON embedding.passage_id = passage.id AND embedding.model = :model
     WHERE passage.transcript_id = :transcript_id
     ORDER BY chunk.chunk_index, passage.passage_index
""").bindparams(bindparam("transcript_id", type_=Uuid()))
