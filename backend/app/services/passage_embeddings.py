"""Giving stored passages their vectors, off the request path.

Storing a transcript queues an embed job (app/services/transcripts.py); a worker runs it with
`Embedder.embed_missing(transcript_id=…)`, and `python -m app.cli embed-missing` runs the same
over every passage. Both first cut into passages any chunk stored before passages existed (the
backfill), then embed only passages still lacking a vector for the configured model, and commit
batch by batch: an interrupted run resumes where it stopped, and a new model's vectors are added
beside the old ones, which search keeps using until the new model's are in.
"""

import asyncio
import time
from collections.abc import Callable
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.db.repositories import PassageEmbeddingRepository
from app.db.session import UnitOfWork
from app.db.vector_index import ensure_vector_index
from app.services.embeddings.base import EmbeddingProvider
from app.services.embeddings.factory import build_embedding_provider
from app.services.transcripts import cut_missing_passages

ProviderFactory = Callable[[Settings], EmbeddingProvider]


class Embedder:
    """The process's embedding provider, built on first use, and the work done with it."""

    def __init__(
        self, settings: Settings, factory: ProviderFactory = build_embedding_provider
    ) -> None:
        self.settings = settings
        self._factory = factory
        self._provider: EmbeddingProvider | None = None
        self._building = asyncio.Lock()

    async def provider(self) -> EmbeddingProvider:
        async with self._building:
            if self._provider is None:
                # An offline provider loads its model when built: not on the event loop.
                self._provider = await asyncio.to_thread(self._factory, self.settings)
        return self._provider

    async def embed_missing(
        self,
        unit_of_work: UnitOfWork,
        *,
        transcript_id: UUID | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Embed and store every passage (of the transcript, or all) without a vector for the
        provider's model, a batch per transaction; returns how many were embedded."""
        embedded, _ = await self.embed_until(
            unit_of_work, transcript_id=transcript_id, on_batch=on_batch
        )
        return embedded

    async def embed_until(
        self,
        unit_of_work: UnitOfWork,
        *,
        transcript_id: UUID | None = None,
        on_batch: Callable[[int], None] | None = None,
        deadline: float | None = None,
    ) -> tuple[int, bool]:
        """`embed_missing`, stopping after the batch that ends past `deadline` (a
        `time.monotonic()` value): how many were embedded, and whether none is missing now."""
        provider = await self.provider()
        async with unit_of_work() as session:
            await cut_missing_passages(session, transcript_id=transcript_id)
        model, batch_size = provider.model_name, self.settings.embedding_batch_size
        after: UUID | None = None
        embedded = 0
        while True:
            async with unit_of_work() as session:
                batch = await PassageEmbeddingRepository(session).lacking(
                    model, transcript_id=transcript_id, after=after, limit=batch_size
                )
            if not batch:
                return embedded, True
            vectors = await provider.embed_passages([passage.text for passage in batch])
            async with unit_of_work() as session:
                await PassageEmbeddingRepository(session).store_many(
                    model, [(p.passage_id, v) for p, v in zip(batch, vectors, strict=True)]
                )
            after, embedded = batch[-1].passage_id, embedded + len(batch)
            if on_batch is not None:
                on_batch(len(batch))
            if deadline is not None and time.monotonic() >= deadline:
                return embedded, len(batch) < batch_size

    async def count_missing(self, unit_of_work: UnitOfWork) -> int:
        """How many passages have no vector for the provider's model (chunks not yet cut into
        passages are cut first, so that they count)."""
        provider = await self.provider()
        async with unit_of_work() as session:
            await cut_missing_passages(session)
        async with unit_of_work() as session:
            return await PassageEmbeddingRepository(session).count_lacking(provider.model_name)

    async def prepare_index(self, engine: AsyncEngine) -> None:
        """Create the model's vector index unless it exists. One embedding tells its length,
        and shows at start-up whether the provider works."""
        provider = await self.provider()
        dims = len(await provider.embed_query("How long are these vectors?"))
        await ensure_vector_index(engine, provider.model_name, dims)

    async def aclose(self) -> None:
        if self._provider is not None:
            await self._provider.aclose()
