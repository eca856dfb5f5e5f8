"""A short talk, asked about in its own words: the answer does not depend on whether its vectors
are in yet.

Before a transcript's passages have vectors, search goes by words, and a passage holding the
question's words answers it. Once they are in, the decision goes by meaning, where a talk of four
captions stands out less from everyday sentences than a long one does. A passage holding every
word of the question is still about what it asks (ranking.Ranking.every_word_coverage)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import get_settings
from app.services.chunking import Segment
from app.services.passage_embeddings import Embedder
from app.services.retrieval import Ranking, SearchMode, embed_question, retrieve
from app.services.transcripts import NewTranscript, store_transcript
from tests.factories import make_user
from tests.offline_model import offline_model

pytestmark = pytest.mark.slow

CAPTIONS = (
    "Welcome back to the kitchen, today we bake a sourdough loaf.",
    "Feed the starter the night before so it is bubbly and active in the morning.",
    "Preheat the oven to 250 degrees with the Dutch oven inside for the sourdough.",
    "Bake the loaf covered for twenty minutes, then uncovered until it is deep brown.",
)
HELD_WORDS = ("When is the oven preheated?", "How long is the loaf baked covered?")
ELSEWHERE = "What is the capital of Australia?"


async def test_a_question_in_the_talks_own_words_is_answered_before_and_after_its_vectors(
    session: AsyncSession,
) -> None:
    settings = get_settings()
    model = offline_model(settings.offline_embedding_model)
    user = await make_user(session)
    segments = [Segment(text, 5.0 * n, 5.0) for n, text in enumerate(CAPTIONS)]
    transcript, _ = await store_transcript(
        session, user.id, NewTranscript(video_id="shortTalk01", segments=segments), settings
    )
    ranking = Ranking.of(settings)

    async def ask(question: str) -> tuple[SearchMode, bool]:
        vector = await embed_question(model, question)
        found = await retrieve(session, user.id, question, query_vector=vector, ranking=ranking)
        return found.mode, found.answerable

    for question in HELD_WORDS:
        assert await ask(question) == (SearchMode.LEXICAL, True), question

    @asynccontextmanager
    async def unit_of_work() -> AsyncIterator[AsyncSession]:
        yield session

    embedder = Embedder(settings, factory=lambda _: model)
    assert await embedder.embed_missing(unit_of_work, transcript_id=transcript.id) > 0

    for question in HELD_WORDS:
        assert await ask(question) == (SearchMode.HYBRID, True), question
    assert await ask(ELSEWHERE) == (SearchMode.HYBRID, False)
