"""A short talk, asked about in its own words: the answer does not depend on whether its vectors
are in yet, and a search for a word finds where it is said.

Before a transcript's passages have vectors, search goes by words, and a passage holding the
question's words answers it. Once they are in, the decision goes by meaning, where a talk of four
captions stands out less from everyday sentences than a long one does. A passage holding every
word of the question is still about what it asks (ranking.Ranking.every_word_coverage)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import get_settings
from app.services.chunking import Segment
from app.services.passage_embeddings import Embedder
from app.services.retrieval import Ranking, Retrieval, SearchMode, embed_question, retrieve
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


class ShortTalk:
    """The four captions stored for a new user, asked about with the default settings."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.settings = get_settings()
        self.model = offline_model(self.settings.offline_embedding_model)
        self.user_id: UUID | None = None
        self.transcript_id: UUID | None = None

    async def store(self, video: str) -> None:
        self.user_id = (await make_user(self.session)).id
        segments = [Segment(text, 5.0 * n, 5.0) for n, text in enumerate(CAPTIONS)]
        new = NewTranscript(video_id=video, segments=segments)
        transcript, _ = await store_transcript(self.session, self.user_id, new, self.settings)
        self.transcript_id = transcript.id

    async def embed(self) -> None:
        @asynccontextmanager
        async def unit_of_work() -> AsyncIterator[AsyncSession]:
            yield self.session

        embedder = Embedder(self.settings, factory=lambda _: self.model)
        assert await embedder.embed_missing(unit_of_work, transcript_id=self.transcript_id) > 0

    async def ask(self, question: str) -> Retrieval:
        assert self.user_id is not None
        vector = await embed_question(self.model, question)
        ranking = Ranking.of(self.settings)
        return await retrieve(
            self.session, self.user_id, question, query_vector=vector, ranking=ranking
        )


async def test_a_question_in_the_talks_own_words_is_answered_before_and_after_its_vectors(
    session: AsyncSession,
) -> None:
    talk = ShortTalk(session)
    await talk.store("shortTalk01")

    for question in HELD_WORDS:
        found = await talk.ask(question)
        assert (found.mode, found.answerable) == (SearchMode.LEXICAL, True), question

    await talk.embed()

    for question in HELD_WORDS:
        found = await talk.ask(question)
        assert (found.mode, found.answerable) == (SearchMode.HYBRID, True), question
    found = await talk.ask(ELSEWHERE)
    assert (found.mode, found.answerable) == (SearchMode.HYBRID, False)


async def test_a_declined_search_lists_only_passages_holding_its_words(
    session: AsyncSession,
) -> None:
    """One word is seldom a question the talk answers (its margin is small), but a search for
    it still finds where it is said; a question no passage holds the words of lists nothing."""
    talk = ShortTalk(session)
    await talk.store("shortTalk02")
    await talk.embed()

    word = await talk.ask("starter")
    elsewhere = await talk.ask(ELSEWHERE)

    assert not word.answerable
    assert [ranked.hit.youtube_video_id for ranked in word.listed()] == ["shortTalk02"]
    assert not elsewhere.answerable
    assert elsewhere.hits  # near in meaning, as every passage is to some degree...
    assert elsewhere.listed() == []  # ...but not shown
