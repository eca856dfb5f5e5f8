import itertools
import random

import pytest

from app.services.chunking import Segment, TextChunk, chunk_segments, chunk_text, count_tokens

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


# Words that split into several BPE pieces, with and without a space before them.
TRICKY_WORDS = [
    "Hello,", "world!", "It's", "2024:", "the", "oven's", "at", "250°C", "(482°F)", "—", "don't",
    "panic...", "naïve", "café", "東京", "🙂👍🏽", "'quoted'", "123456789", "e.g.", "x86_64",
    "----", "'s", "\u2019s",
]  # fmt: skip


def tricky_text(words: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(TRICKY_WORDS) for _ in range(words))


def test_the_same_chunks_as_before_for_the_same_captions() -> None:
    """Pinned from the word-by-word implementation this one replaced."""
    segments = [
        Segment("Welcome back, everyone: today's talk is about bread.", 0.0, 4.0),
        Segment("", 4.0, 1.0),
        Segment("It's 2024 and   the oven runs at 250°C!", 5.0, 4.5),
        Segment("Supercalifragilisticexpialidocious sourdough", 5.0, 3.0),
        Segment("— mix, rest, fold; repeat.", 12.25, 2.0),
    ]
    chunks = chunk_segments(segments, max_tokens=12, overlap=0.25, encoding=ENCODING)

    assert chunks == [
        TextChunk(0, "Welcome back, everyone: today's talk is about bread.", 12, 0.0, 4.0,
                  ((0, 0.0),)),
        TextChunk(1, "about bread. It's 2024 and the oven runs", 12, 0.0, 9.5,
                  ((0, 0.0), (2, 5.0))),
        TextChunk(2, "the oven runs at 250°C!", 8, 5.0, 9.5, ((0, 5.0),)),
        TextChunk(3, "Supercalifragilisticexpialidocious", 11, 5.0, 8.0, ((0, 5.0),)),
        TextChunk(4, "sourdough — mix, rest, fold; repeat.", 12, 5.0, 14.25,
                  ((0, 5.0), (1, 12.25))),
    ]  # fmt: skip


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_token_counts_are_those_of_the_chunk_text(encoding: str) -> None:
    # Counted from per-word counts: the first word of a chunk has no space before it.
    chunks = chunk_text(tricky_text(600, seed=1), max_tokens=40, overlap=0.3, encoding=encoding)
    assert [chunk.token_count for chunk in chunks] == [
        count_tokens(chunk.text, encoding) for chunk in chunks
    ]


def running_tokens(words: str) -> int:
    """Tokens of words as windows count them: each as in running text, after a space."""
    return count_tokens(" " + words, ENCODING)


def test_chunks_are_slices_of_the_text_each_as_long_as_the_budget_allows() -> None:
    text = tricky_text(800, seed=2)
    chunks = chunk_text(text, max_tokens=50, overlap=0.0, encoding=ENCODING)

    assert " ".join(chunk.text for chunk in chunks) == text
    for chunk, following in itertools.pairwise(chunks):
        assert chunk.text in text
        # The budget counts the first word after a space too: alone, it may take a token more.
        assert running_tokens(chunk.text) <= 50
        assert running_tokens(f"{chunk.text} {following.text.split()[0]}") > 50


def test_the_next_window_repeats_as_many_words_as_fit_in_the_overlap() -> None:
    words = tricky_text(800, seed=3).split()
    overlap_tokens = 15  # int(60 * 0.25)
    chunks = chunk_text(" ".join(words), max_tokens=60, overlap=0.25, encoding=ENCODING)

    position = 0
    for chunk, following in itertools.pairwise(chunks):
        chunk_words = chunk.text.split()
        last = position + len(chunk_words)
        assert words[position:last] == chunk_words
        next_position = last - _shared_words(chunk_words, following.text.split())
        assert position < next_position <= last
        assert running_tokens(" ".join(words[next_position:last])) <= overlap_tokens
        if next_position - 1 > position:
            one_more = " ".join(words[next_position - 1 : last])
            assert running_tokens(one_more) > overlap_tokens
        position = next_position
    assert position + len(chunks[-1].text.split()) == len(words)


def _shared_words(chunk: list[str], following: list[str]) -> int:
    """How many of `chunk`'s last words `following` starts with (the longest such run that the
    chunk does not fully repeat)."""
    return max(n for n in range(len(chunk)) if chunk[len(chunk) - n :] == following[:n])


def test_words_longer_than_the_budget_each_stand_alone_wherever_they_are() -> None:
    giant, other = "x" * 200, "y" * 300
    text = f"{giant} {other} small words here {giant}"
    chunks = chunk_text(text, max_tokens=10, overlap=0.0, encoding=ENCODING)

    assert [chunk.text for chunk in chunks] == [giant, other, "small words here", giant]
    assert chunks[0].token_count == count_tokens(giant, ENCODING) > 10


def test_moments_mark_each_caption_start_within_a_chunk() -> None:
    segments = [
        Segment("one two three", 0.0, 2.0),
        Segment("   ", 2.0, 1.0),  # no words: no moment, no timing
        Segment("four five", 3.0, 2.0),
        Segment("six", 3.0, 1.0),  # starts when the one before does: one moment for both
        Segment("seven eight nine", 6.5, 3.0),
    ]
    chunks = chunk_segments(segments, max_tokens=5, overlap=0.4, encoding=ENCODING)

    assert [(c.text, c.start, c.end, c.moments) for c in chunks] == [
        ("one two three four five", 0.0, 5.0, ((0, 0.0), (3, 3.0))),
        ("four five six seven eight", 3.0, 9.5, ((0, 3.0), (3, 6.5))),
        ("seven eight nine", 6.5, 9.5, ((0, 6.5),)),
    ]


def test_a_chunk_starting_inside_a_caption_starts_at_that_captions_start() -> None:
    segments = [Segment(" ".join(f"w{i}" for i in range(30)), 10.0, 20.0)]
    chunks = chunk_segments(segments, max_tokens=20, overlap=0.2, encoding=ENCODING)

    assert len(chunks) > 1
    assert {(c.start, c.end, c.moments) for c in chunks} == {(10.0, 30.0, ((0, 10.0),))}
