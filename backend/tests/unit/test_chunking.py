import itertools

import pytest

from app.services.chunking import Segment, chunk_segments, chunk_text, count_tokens

ENCODING = "cl100k_base"


def test_counts_tokens_offline_with_the_bundled_vocabulary() -> None:
    assert count_tokens("hello world", ENCODING) == 2
    assert count_tokens("", ENCODING) == 0


def test_windows_respect_the_token_budget_and_overlap() -> None:
    text = " ".join(f"w{i}" for i in range(2000))
    chunks = chunk_text(text, max_tokens=100, overlap=0.2, encoding=ENCODING)

    assert all(chunk.token_count <= 100 for chunk in chunks)
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    for previous, current in itertools.pairwise(chunks):
        shared = set(previous.text.split()) & set(current.text.split())
        assert 0 < count_tokens(" ".join(sorted(shared)), ENCODING) <= 25
    covered = {word for chunk in chunks for word in chunk.text.split()}
    assert covered == set(text.split())  # nothing lost between windows


def test_no_overlap_partitions_the_text() -> None:
    text = " ".join(f"w{i}" for i in range(500))
    chunks = chunk_text(text, max_tokens=50, overlap=0.0, encoding=ENCODING)
    assert " ".join(chunk.text for chunk in chunks) == text


def test_a_word_longer_than_the_budget_is_a_chunk_of_its_own() -> None:
    giant = "x" * 400
    chunks = chunk_text(f"before {giant} after", max_tokens=10, overlap=0.2, encoding=ENCODING)
    assert giant in [chunk.text for chunk in chunks]
    assert chunks[-1].text.endswith("after")


def test_empty_text_has_no_chunks() -> None:
    assert chunk_text("   ", max_tokens=10, overlap=0.2, encoding=ENCODING) == []


def test_segments_carry_their_timings() -> None:
    segments = [Segment(f"line {i} of the talk", start=i * 2.5, duration=2.5) for i in range(40)]
    chunks = chunk_segments(segments, max_tokens=30, overlap=0.0, encoding=ENCODING)

    assert chunks[0].start == 0.0
    assert chunks[-1].end == pytest.approx(100.0)
    for chunk in chunks:
        assert chunk.start is not None
        assert chunk.end is not None
        assert chunk.start < chunk.end
