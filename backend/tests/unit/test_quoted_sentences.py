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


MITE_SENTENCE = (
    "If you remember one thing from tonight, the most important number in beekeeping is the "
    "mite count, which should stay below three mites per hundred bees."
)


def cut_passage(chunk_id: object, chunk_text: str, first: int, last: int) -> SimpleNamespace:
    """A passage of words [first, last) of its chunk, cut where captions end, not sentences;
    each caption of the chunk (`moments`) starts at a multiple of five words, five seconds
    apart."""
    words = chunk_text.split()
    passage = SimpleNamespace(
        text=" ".join(words[first:last]), word_offset=first, start_seconds=float(first)
    )
    moments = [[offset, float(offset)] for offset in range(0, len(words), 5)]
    hit = SimpleNamespace(
        chunk_id=chunk_id, passage=passage, chunk_text=chunk_text, metadata={"moments": moments}
    )
    return SimpleNamespace(hit=hit, score=0.9)


async def test_a_sentence_a_passage_cuts_is_quoted_whole_from_where_it_starts() -> None:
    chunk_text = f"Welcome back everyone to the club. {MITE_SENTENCE} Then we count them again."
    start = chunk_text.split().index("number")  # the passage starts mid-sentence...
    end = chunk_text.split().index("mites")  # ...and ends mid-sentence
    found = [cut_passage(uuid4(), chunk_text, start, end)]

    quotes = await choose_quotes(
        "What is the most important number in beekeeping?",
        [SimpleNamespace(number=1, hit=found[0].hit)],
        None,
        found,
    )

    assert [quote.text for quote in quotes] == [MITE_SENTENCE]
    assert quotes[0].seconds == 5.0  # the caption holding "If", not the passage's start


async def test_a_sentence_a_chunk_ends_inside_is_quoted_from_the_chunk_holding_it_whole() -> None:
    cut = MITE_SENTENCE.rsplit(" three", 1)[0]
    ending, overlapping = uuid4(), uuid4()
    found = [
        cut_passage(ending, f"Welcome back everyone to the club. {cut}", 6, 20),
        cut_passage(overlapping, f"{MITE_SENTENCE} Then we count them again.", 0, 12),
    ]
    citations = [
        SimpleNamespace(number=1, hit=found[0].hit),
        SimpleNamespace(number=2, hit=found[1].hit),
    ]

    quotes = await choose_quotes("What mite count is too high?", citations, None, found)

    assert MITE_SENTENCE in [quote.text for quote in quotes]
    assert cut not in [quote.text for quote in quotes]
