"""Retrieval and the answerability decision on the labelled corpus, through the real pipeline:
the talks stored and chunked as uploads are, embedded by the offline model, every question
asked in each mode. The per-kind table is printed (pytest -s); the floors below are what the
ranking measured when it was tuned, so a change that loses ground fails here."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import get_settings
from app.services.retrieval import QueryVector, SearchMode
from tests.conftest import rolled_back_session
from tests.factories import make_user
from tests.offline_model import embedder_for
from tests.retrieval.corpus import load_questions, load_talks
from tests.retrieval.evaluation import Outcome, evaluate, scores, store_talks

pytestmark = pytest.mark.slow

QUESTIONS = load_questions()


@pytest.fixture(scope="module")
async def outcomes(engine: AsyncEngine) -> AsyncIterator[dict[SearchMode, list[Outcome]]]:
    """Every question asked in every mode, once for the module: the tests below only read the
    outcomes. The talks live in a transaction of the module's own, rolled back at its end."""
    async with rolled_back_session(engine) as session:
        user = await make_user(session)
        await store_talks(session, user.id, load_talks(), get_settings())

        @asynccontextmanager
        async def unit_of_work() -> AsyncIterator[AsyncSession]:
            yield session

        embedder = embedder_for(get_settings())
        await embedder.embed_missing(unit_of_work)
        provider = await embedder.provider()
        vectors = {
            q.text: QueryVector(provider.model_name, await provider.embed_query(q.text))
            for q in QUESTIONS
        }
        results = {
            mode: await evaluate(session, user.id, QUESTIONS, vectors, mode) for mode in SearchMode
        }
        print_table({mode: scores(found) for mode, found in results.items()})
        yield results


def print_table(table: dict[SearchMode, dict[str, float]]) -> None:
    modes = list(table)
    print("\n" + " " * 34 + "".join(f"{mode.value:>10}" for mode in modes))
    for row in table[modes[0]]:
        print(f"{row:<34}" + "".join(f"{table[mode][row]:>10.2f}" for mode in modes))


async def test_hybrid_ranking_beats_each_signal_alone(
    outcomes: dict[SearchMode, list[Outcome]],
) -> None:
    table = {mode: scores(found) for mode, found in outcomes.items()}
    hybrid, lexical, semantic = (table[m] for m in SearchMode)
    for kind in ("verbatim hit@5", "paraphrase hit@5"):
        assert hybrid[kind] >= max(lexical[kind], semantic[kind]), kind
    assert hybrid["verbatim hit@5"] >= 0.95
    assert hybrid["paraphrase hit@5"] >= 0.85


async def test_questions_no_video_answers_are_declined(
    outcomes: dict[SearchMode, list[Outcome]],
) -> None:
    hybrid = scores(outcomes[SearchMode.HYBRID])
    assert hybrid["  off_topic_shared_word declined"] >= 0.9
    assert hybrid["unanswerable declined"] >= 0.5
    assert hybrid["answerable falsely declined"] <= 0.05


async def test_a_declined_question_lists_no_passage_to_cite(
    outcomes: dict[SearchMode, list[Outcome]],
) -> None:
    declined = [o for o in outcomes[SearchMode.HYBRID] if o.declined]
    assert declined
    assert all(o.retrieval.supporting() == [] for o in declined)
