"""Chapters found, named and stored: what the embed job, the first read and a new transcript's
storing call (the package's overview is in its `__init__`)."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.offload import run_in_process
from app.db.models import Transcript
from app.db.repositories import (
    ChapterRepository,
    NewChapter,
    OutlinePassage,
    TranscriptRepository,
)
from app.db.session import UnitOfWork
from app.services.chapters.finding import Block, Outline, outline
from app.services.chapters.titles import named_by_model
from app.services.llm import LanguageModel, Usage
from app.services.usage_limits import has_tokens_left, record_usage


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
    """The timed passages in order, each second of speech once. Chunks overlap, and so do
    their passages there: a passage said wholly within the ones kept is left out; one that
    starts within them and goes on past their end (a chunk can end mid-sentence) is kept from
    where they end, else the speech after it would be missing from every chapter."""
    kept: list[OutlinePassage] = []
    for passage in passages:
        if passage.start_seconds is None or passage.end_seconds is None:
            continue
        said_until = (kept[-1].end_seconds or 0.0) if kept else None
        if said_until is not None and passage.start_seconds < said_until - 1.0:
            if passage.end_seconds <= said_until + 1.0:
                continue
            passage = replace(passage, start_seconds=said_until)
        kept.append(passage)
    return kept


@dataclass(frozen=True, slots=True)
class Namer:
    """The language model that may name chapters, and the settings its tokens count under."""

    model: LanguageModel
    settings: Settings

    async def may_name(self, session: AsyncSession, user_id: UUID) -> bool:
        """Whether the model is one that names (not the offline one) and the owner has tokens
        left today."""
        if self.model.extractive:
            return False
        return await has_tokens_left(session, user_id, self.settings)

    async def name(self, found: Outline) -> tuple[Outline, Usage | None]:
        """The model's titles and summaries, with what the request used; the outline as found
        when the model fails or answers otherwise (what it used still counts). Holds no
        connection while the model works."""
        return await named_by_model(self.model, found, found.texts)

    async def record(self, session: AsyncSession, user_id: UUID, usage: Usage) -> None:
        await record_usage(session, user_id, "chapters", self.model, usage)


@dataclass(frozen=True, slots=True)
class OutlineInput:
    """What finding a transcript's chapters reads from the database."""

    blocks: list[Block]
    vectors: list[list[float]] | None
    description: str | None
    language: str | None


async def read(
    session: AsyncSession, transcript: Transcript, model_name: str | None
) -> OutlineInput:
    passages = await ChapterRepository(session).outline_passages(transcript.id, model_name)
    blocks, vectors = blocks_and_vectors(passages)
    meta = transcript.meta or {}
    return OutlineInput(
        blocks, vectors, _text(meta.get("description")), _text(meta.get("language"))
    )


async def compute(inputs: OutlineInput) -> Outline:
    """The chapters found in what was read (in a worker process), unnamed."""
    return await run_in_process(
        outline, inputs.blocks, inputs.vectors, inputs.description, inputs.language
    )


async def store(session: AsyncSession, transcript: Transcript, found: Outline) -> None:
    chapters = [
        NewChapter(chapter.title, chapter.start, chapter.end, chapter.summary)
        for chapter in found.chapters
    ]
    await ChapterRepository(session).replace(
        transcript, chapters, summary=found.summary, source=found.source
    )


async def find_and_store(
    session: AsyncSession, transcript: Transcript, model_name: str | None
) -> None:
    """Find the transcript's chapters and store them with its summary, in the session's
    transaction: for a transcript stored with nothing to embed, which no job will outline."""
    await store(session, transcript, await compute(await read(session, transcript, model_name)))


async def find_name_and_store(
    unit_of_work: UnitOfWork,
    transcript_id: UUID,
    model_name: str | None,
    namer_for: Callable[[AsyncSession], Awaitable[Namer | None]],
) -> None:
    """What the embed job does: read in one transaction, find and name with none open (a
    language model may take seconds to answer), store in another. A transcript deleted in the
    meantime is left alone."""
    async with unit_of_work() as session:
        transcript = await TranscriptRepository(session).get_by_id(transcript_id)
        if transcript is None:
            return
        inputs = await read(session, transcript, model_name)
        namer = await namer_for(session)
        if namer is not None and not await namer.may_name(session, transcript.user_id):
            namer = None
    found = await compute(inputs)
    usage = None
    if namer is not None and found.source == "computed":
        found, usage = await namer.name(found)
    async with unit_of_work() as session:
        transcript = await TranscriptRepository(session).get_by_id(transcript_id)
        if transcript is None:
            return
        if namer is not None and usage is not None:
            await namer.record(session, transcript.user_id, usage)
        await store(session, transcript, found)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
