"""The sentences an offline answer or draft quotes: one per passage, and never the same
sentence twice though overlapping chunks hold it twice."""

from types import SimpleNamespace
from uuid import uuid4

from app.services.answers import choose_quotes

SAID_TWICE = "The varroa mite spreads the viruses that kill the colony in winter."


def found_passage(chunk_id: object, text: str, score: float) -> SimpleNamespace:
    passage = SimpleNamespace(text=text, word_offset=0, start_seconds=0.0)
    hit = SimpleNamespace(chunk_id=chunk_id, passage=passage, chunk_text=text, metadata={})
    return SimpleNamespace(hit=hit, score=score)


async def test_a_sentence_two_chunks_share_is_quoted_once() -> None:
    first, second = uuid4(), uuid4()
    found = [
        found_passage(first, f"Bees forage in spring. {SAID_TWICE}", 0.9),
        found_passage(second, f"{SAID_TWICE} Treat the hive in autumn against varroa mites.", 0.89),
    ]
    citations = [
        SimpleNamespace(number=1, hit=found[0].hit),
        SimpleNamespace(number=2, hit=found[1].hit),
    ]

    quotes = await choose_quotes(
        "How does the varroa mite kill the colony?", citations, None, found
    )

    texts = [quote.text for quote in quotes]
    assert texts.count(SAID_TWICE) == 1
    assert len(texts) == 2  # the second passage gives its other sentence instead
