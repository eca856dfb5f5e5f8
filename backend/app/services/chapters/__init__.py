"""Chapters and a summary per transcript: found from its passages (app/services/chapters/finding.py)
in a worker process, stored, and read by `GET /transcripts/{id}/chapters`.

Computed by the embed job once a transcript's vectors are in (so topic changes are found in
meaning, any language), or on first read for a transcript stored before; from words (tf-idf)
when there are no vectors. A video whose description lists its chapters keeps those.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.offload import run_in_process
from app.db.models import Transcript
from app.db.repositories import ChapterRepository, NewChapter, OutlinePassage, UsageRepository
from app.services.chapters.finding import Block, Outline, outline
from app.services.chapters.titles import named_by_model
from app.services.llm import LanguageModel
from app.services.usage_limits import has_tokens_left


def blocks_and_vectors(
    passages: Sequence[OutlinePassage],
) -> tuple[list[Block], list[list[float]] | None]:
    """The blocks to find chapters in, with their vectors when every one has one."""
    kept = _kept(passages)
    blocks = [Block(p.start_seconds or 0.0, p.end_seconds or 0.0, p.text) for p in kept]
    vectors = [p.vector for p in kept]
    if kept and all(vector is not None for vector in vectors):
        return blocks, [list(vector) for vector in vectors if vector is not None]
    return blocks, None


def _kept(passages: Sequence[OutlinePassage]) -> list[OutlinePassage]:
    kept: list[OutlinePassage] = []
    for passage in passages:
        if passage.start_seconds is None or passage.end_seconds is None:
            continue
        if kept and passage.start_seconds < (kept[-1].end_seconds or 0.0) - 1.0:
            continue
        kept.append(passage)
    return kept


@dataclass(frozen=True, slots=True)
class Namer:
    """The language model that may name chapters, and the settings its tokens count under."""

    model: LanguageModel
    settings: Settings

    async def name(self, session: AsyncSession, transcript: Transcript, found: Outline) -> Outline:
        """The model's titles and summaries, with their tokens in the owner's usage ledger; the
        outline as found when there is no model, no tokens left, or no usable answer."""
        if self.model.extractive:
            return found
        if not await has_tokens_left(session, transcript.user_id, self.settings):
            return found
        named = await named_by_model(self.model, found, found.texts)
        if named is None:
            return found
        outline_named, usage = named
        await UsageRepository(session).record(
            user_id=transcript.user_id,
            kind="chapters",
            provider=self.model.provider,
            model=self.model.model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
        return outline_named


async def find_and_store(
    session: AsyncSession,
    transcript: Transcript,
    model_name: str | None,
    namer: Namer | None = None,
) -> None:
    """Find the transcript's chapters (in a worker process) and store them with its summary,
    in the session's transaction; named by the language model when `namer` has one."""
    passages = await ChapterRepository(session).outline_passages(transcript.id, model_name)
    blocks, vectors = blocks_and_vectors(passages)
    meta = transcript.meta or {}
    found = await run_in_process(
        outline, blocks, vectors, _text(meta.get("description")), _text(meta.get("language"))
    )
    if namer is not None and found.source == "computed":
        found = await namer.name(session, transcript, found)
    chapters = [
        NewChapter(chapter.title, chapter.start, chapter.end, chapter.summary)
        for chapter in found.chapters
    ]
    await ChapterRepository(session).replace(
        transcript, chapters, summary=found.summary, source=found.source
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
