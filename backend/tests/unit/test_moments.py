"""Citations point at the moment a passage is said, inside a chunk spanning minutes."""

import uuid

from app.db.repositories import ChunkHit
from app.services.chunking import Segment, chunk_segments
from app.services.retrieval import moment_seconds
from app.services.transcript_text import chunk_metadata

CAPTIONS = [
    Segment("Welcome back everyone, today we bake bread together.", 0.0, 6.0),
    Segment("First feed the starter the night before so it bubbles.", 6.0, 6.0),
    Segment("Then mix flour and water and let the dough rest.", 12.0, 6.0),
    Segment("Bake it in a covered Dutch oven at a high heat.", 18.0, 6.0),
    Segment("Let it cool for an hour before slicing.", 24.0, 6.0),
]


def hit_for(title: str = "Bread at home") -> ChunkHit:
    (chunk,) = chunk_segments(CAPTIONS, 700, 0.2, "cl100k_base")
    return ChunkHit(
        uuid.uuid4(), uuid.uuid4(), "bread000001", title, 0, chunk.text,
        chunk_metadata(chunk), 0.1, "", 1, 1,
    )  # fmt: skip


def test_each_caption_start_is_kept_with_its_word_offset() -> None:
    moments = hit_for().metadata["moments"]
    assert [seconds for _, seconds in moments] == [0.0, 6.0, 12.0, 18.0, 24.0]
    words = hit_for().chunk_text.split()
    assert words[moments[3][0]] == "Bake"


def test_the_moment_is_where_the_questions_words_are_said() -> None:
    assert moment_seconds(hit_for(), "Which pot do I bake it in, a Dutch oven?") == 18.0
    assert moment_seconds(hit_for(), "When do I feed the starter?") == 6.0


def test_words_of_the_title_do_not_pull_the_moment_to_the_start() -> None:
    hit = hit_for(title="Baking bread with a Dutch oven")
    assert moment_seconds(hit, "How long should the bread cool before slicing?") == 24.0


def test_a_question_in_other_words_falls_back_to_the_chunk_start() -> None:
    assert moment_seconds(hit_for(), "What temperature for the loaf?") == 0.0
