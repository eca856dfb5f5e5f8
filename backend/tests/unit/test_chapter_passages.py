"""The passages chapters are found in: chunks overlap, and each second of speech must be in
one block, once."""

from app.db.repositories import OutlinePassage
from app.services.chapters.storing import blocks_and_vectors


def passage(chunk: int, index: int, start: float, end: float, text: str) -> OutlinePassage:
    return OutlinePassage(chunk, index, start, end, text, None)


def test_a_passage_going_on_past_the_chunk_before_is_kept_from_where_that_ends() -> None:
    passages = [
        passage(0, 0, 0.0, 30.0, "first"),
        passage(0, 1, 30.0, 60.0, "second, cut where the chunk ends"),
        passage(1, 0, 50.0, 80.0, "the overlap, then what only this chunk holds"),
        passage(1, 1, 80.0, 110.0, "last"),
    ]

    blocks, _ = blocks_and_vectors(passages)

    assert [(block.start, block.end) for block in blocks] == [
        (0.0, 30.0),
        (30.0, 60.0),
        (60.0, 80.0),
        (80.0, 110.0),
    ]
    assert "what only this chunk holds" in blocks[2].text


def test_a_passage_said_within_the_ones_kept_is_left_out() -> None:
    passages = [
        passage(0, 0, 0.0, 60.0, "the whole minute"),
        passage(1, 0, 40.0, 60.5, "said again where the chunks overlap"),
        passage(1, 1, 60.5, 90.0, "new"),
    ]

    blocks, _ = blocks_and_vectors(passages)

    assert [block.text for block in blocks] == ["the whole minute", "new"]
