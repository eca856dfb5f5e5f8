"""Short talks asked about as viewers ask: the labelled set of short talks (testkit/viewer_talks),
its tuning split, each talk stored for a user of its own as when someone pastes one video, and
asked with the service's default settings.

A question is answered when the best passage stands above the model's everyday level by the
margin (app/services/retrieval/ranking.py). Measured against each question's own closeness to
everyday sentences instead, 12 of these 72 answerable questions were declined; 4 are now. The
floors are below what the pipeline measured here (`make eval` prints the whole table).

The model's vectors are replayed from a recording (`testkit/recorded_embeddings.py`), which
`test_labelled_retrieval.py` checks against the model itself; a stale one is embedded live."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import get_settings
from app.services.passage_embeddings import Embedder
from app.services.retrieval import Ranking, embed_question, retrieve
from testkit.corpus import VIEWER_TALKS, Question
from testkit.recorded_embeddings import RecordedEmbeddings
from tests.conftest import rolled_back_session
from tests.factories import make_user
from tests.offline_model import provider_for
from tests.retrieval.evaluation import libraries_asked, overlaps_answer, store_talks

pytestmark = pytest.mark.slow

RECORDING = Path(__file__).with_name("viewer_vectors.npz")
TOP_PASSAGES = 3


@dataclass(frozen=True, slots=True)
class Reply:
    question: Question
    declined: bool
    answer_in_top_passages: bool


@pytest.fixture(scope="module")
async def asked(engine: AsyncEngine) -> AsyncIterator[list[Reply]]:
    """Every tuning question asked of its talk's library (an off-topic one of each talk's)."""
    settings = get_settings()
    model = RecordedEmbeddings(provider_for(settings), RECORDING)
    talks = [talk for talk in VIEWER_TALKS.talks() if talk.split == "tuning"]
    async with rolled_back_session(engine) as session:

        @asynccontextmanager
        async def unit_of_work() -> AsyncIterator[AsyncSession]:
            yield session

        library = {}
        embedder = Embedder(settings, factory=lambda _: model)
        for talk in talks:
            user = await make_user(session)
            (transcript_id,) = await store_talks(session, user.id, [talk], settings)
            await embedder.embed_missing(unit_of_work, transcript_id=transcript_id)
            library[talk.video_id] = user.id
        found, ranking = [], Ranking.of(settings)
        for question in (q for q in VIEWER_TALKS.questions() if q.split == "tuning"):
            vector = await embed_question(model, question.text)
            for user_id in libraries_asked(question, talks, library):
                retrieval = await retrieve(
                    session, user_id, question.text, query_vector=vector, ranking=ranking
                )
                top = retrieval.passages[:TOP_PASSAGES]
                answer = question.answer or ""
                in_top = any(
                    r.hit.passage and overlaps_answer(r.hit.passage.text, answer) for r in top
                )
                found.append(Reply(question, not retrieval.answerable, in_top))
        model.save_if_asked()
        yield found


def share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags)


async def test_answerable_questions_are_answered_in_every_language(asked: list[Reply]) -> None:
    answerable = [a for a in asked if a.question.answerable]
    assert len(answerable) == 72
    assert share([a.declined for a in answerable]) <= 0.1  # 0.06 measured
    other_languages = [a for a in answerable if a.question.kind == "other_language"]
    assert share([a.declined for a in other_languages]) <= 0.1  # none measured


async def test_the_answer_is_among_the_best_passages(asked: list[Reply]) -> None:
    answerable = [a for a in asked if a.question.answerable]
    assert share([a.answer_in_top_passages for a in answerable]) >= 0.65  # 0.75 measured


async def test_questions_off_the_talks_subject_are_declined(asked: list[Reply]) -> None:
    off_topic = [a for a in asked if a.question.subkind in ("off_topic", "off_topic_shared_word")]
    assert share([a.declined for a in off_topic]) >= 0.55  # 0.67 measured
