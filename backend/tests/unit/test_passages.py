"""Passages (app/services/passages.py): a chunk cut into runs of whole caption cues, short enough
for the embedding model, each with the second it starts and ends."""

import itertools
from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.services.chunking import Segment, chunk_segments
from app.services.passages import MAX_WORDS, TARGET_WORDS, TextPassage, chunk_passages
from app.services.transcript_text import chunk_metadata

SECONDS_PER_WORD = 0.4


def timed_chunk(cue_words: Sequence[int], start: float = 100.0) -> tuple[str, dict[str, Any]]:
    """A chunk of cues of these word counts, said one after another from `start` (each word
    takes SECONDS_PER_WORD): its text and its metadata as stored with it."""
    words: list[str] = []
    moments: list[list[float]] = []
    seconds = start
    for cue, count in enumerate(cue_words):
        moments.append([len(words), seconds])
        words += [f"c{cue}w{word}" for word in range(count)]
        seconds += count * SECONDS_PER_WORD
    metadata = {"start_seconds": start, "end_seconds": seconds, "moments": moments}
    return " ".join(words), metadata


def cue_boundaries(metadata: dict[str, Any], word_count: int) -> set[int]:
    return {int(offset) for offset, _ in metadata["moments"]} | {word_count}


def cue_second(metadata: dict[str, Any], offset: int) -> float:
    """The start of the cue holding the word at `offset`."""
    return max(float(s) for o, s in metadata["moments"] if o <= offset)


def assert_covers_every_word_once_in_order(text: str, passages: Sequence[TextPassage]) -> None:
    words = text.split()
    assert [p.index for p in passages] == list(range(len(passages)))
    assert " ".join(p.text for p in passages) == " ".join(words)
    offsets = [p.word_offset for p in passages]
    lengths = [len(p.text.split()) for p in passages]
    assert offsets == [sum(lengths[:n]) for n in range(len(passages))]
    for passage in passages:
        first = passage.word_offset
        assert passage.text.split() == words[first : first + len(passage.text.split())]


def assert_timed_like_its_cues(passages: Sequence[TextPassage], metadata: dict[str, Any]) -> None:
    """Each passage starts at the second of the cue holding its first word and ends where the
    next one starts; the last ends with the chunk."""
    for passage in passages:
        assert passage.start == cue_second(metadata, passage.word_offset)
    for passage, following in itertools.pairwise(passages):
        assert passage.end == following.start
    assert passages[-1].end == metadata["end_seconds"]
    assert all(p.start is not None and p.end is not None and p.start <= p.end for p in passages)


def test_a_timed_chunk_is_cut_into_runs_of_whole_cues() -> None:
    text, metadata = timed_chunk([10] * 30)  # 300 words in cues of ten

    passages = chunk_passages(text, metadata)

    assert_covers_every_word_once_in_order(text, passages)
    assert_timed_like_its_cues(passages, metadata)
    boundaries = cue_boundaries(metadata, 300)
    assert all(p.word_offset in boundaries for p in passages)
    assert all(TARGET_WORDS <= len(p.text.split()) <= MAX_WORDS for p in passages[:-1])
    assert [len(p.text.split()) for p in passages] == [80, 80, 80, 60]
    assert [(p.start, p.end) for p in passages] == [
        (100.0, 132.0),
        (132.0, 164.0),
        (164.0, 196.0),
        (196.0, 220.0),
    ]


def test_a_passage_closes_before_a_cue_that_would_take_it_past_the_maximum() -> None:
    text, metadata = timed_chunk([70, 60, 20])  # 70 + 60 would be 130 words

    passages = chunk_passages(text, metadata)

    assert [(p.word_offset, len(p.text.split())) for p in passages] == [(0, 70), (70, 80)]
    assert_covers_every_word_once_in_order(text, passages)
    assert_timed_like_its_cues(passages, metadata)


def test_a_cue_longer_than_a_passage_is_cut_between_words() -> None:
    text, metadata = timed_chunk([10, 300, 20], start=5.0)

    passages = chunk_passages(text, metadata)

    assert_covers_every_word_once_in_order(text, passages)
    assert all(len(p.text.split()) <= MAX_WORDS for p in passages)
    # The long cue's words are spread over several passages, each said from the cue's start.
    long_cue = [p for p in passages if p.text.split()[0].startswith("c1w")]
    assert len(long_cue) >= 3
    assert {p.start for p in long_cue} == {5.0 + 10 * SECONDS_PER_WORD}
    assert_timed_like_its_cues(passages, metadata)


def test_a_chunk_with_a_start_but_no_cues_is_one_long_cue() -> None:
    text = " ".join(f"w{i}" for i in range(200))

    passages = chunk_passages(text, {"start_seconds": 10.0, "end_seconds": 70.0})

    assert_covers_every_word_once_in_order(text, passages)
    assert all(len(p.text.split()) <= MAX_WORDS for p in passages)
    assert {p.start for p in passages} == {10.0}
    assert passages[-1].end == 70.0


def test_a_short_tail_joins_the_passage_before_when_both_fit() -> None:
    text, metadata = timed_chunk([40, 40, 10])

    (passage,) = chunk_passages(text, metadata)

    assert passage.text == text
    assert (passage.start, passage.end) == (100.0, metadata["end_seconds"])


def test_a_short_tail_stays_alone_when_joining_would_pass_the_maximum() -> None:
    fits, fits_metadata = timed_chunk([60, 50, 10])  # 110 + 10 = 120 words: joined
    too_long, too_long_metadata = timed_chunk([60, 55, 10])  # 115 + 10 = 125 words: not

    assert [len(p.text.split()) for p in chunk_passages(fits, fits_metadata)] == [120]
    assert [len(p.text.split()) for p in chunk_passages(too_long, too_long_metadata)] == [115, 10]


def test_an_untimed_chunk_is_cut_at_sentence_ends() -> None:
    sentences = [f"This is sentence number {n} of a talk without captions." for n in range(20)]
    text = " ".join(sentences)  # 200 words, ten a sentence

    passages = chunk_passages(text, {})

    assert_covers_every_word_once_in_order(text, passages)
    assert len(passages) >= 2
    for passage in passages:
        assert passage.text.endswith("captions.")  # whole sentences only
        assert passage.start is None
        assert passage.end is None
    assert all(TARGET_WORDS <= len(p.text.split()) <= MAX_WORDS for p in passages[:-1])
    assert [len(p.text.split()) for p in passages] == [80, 80, 40]


def test_an_untimed_chunk_without_sentence_ends_is_cut_at_the_maximum() -> None:
    text = " ".join(f"w{i}" for i in range(300))

    passages = chunk_passages(text, {})

    assert [len(p.text.split()) for p in passages] == [MAX_WORDS, MAX_WORDS, 60]
    assert_covers_every_word_once_in_order(text, passages)


def test_an_untimed_short_tail_joins_the_passage_before() -> None:
    sentence = " ".join(["word"] * 80) + "."
    text = f"{sentence} And a few more words."  # a tail of five words

    (passage,) = chunk_passages(text, {})

    assert passage.text == text


def test_a_chunk_without_words_has_no_passages() -> None:
    assert chunk_passages("", {}) == []
    assert chunk_passages("  \n ", {"start_seconds": 1.0, "end_seconds": 2.0}) == []


def test_the_passages_of_real_chunks_start_where_their_captions_do() -> None:
    """Through the chunker as a transcript is stored: each passage starts at the second of the
    caption its first word was said in, and all but a chunk's first (a chunk may start inside
    a caption) start with a caption's first word."""
    captions = [Segment(" ".join(f"n{n}k{k}" for k in range(12)), n * 4.0, 4.0) for n in range(200)]
    said_at = {word: segment.start for segment in captions for word in segment.text.split()}

    chunks = chunk_segments(captions, 700, 0.1, "cl100k_base")

    assert len(chunks) > 3
    for chunk in chunks:
        metadata = chunk_metadata(chunk)
        passages = chunk_passages(chunk.text, metadata)
        assert len(passages) >= 2 or chunk is chunks[-1]
        assert_covers_every_word_once_in_order(chunk.text, passages)
        assert_timed_like_its_cues(passages, metadata)
        for passage in passages:
            assert passage.start == said_at[passage.text.split()[0]]
            assert len(passage.text.split()) <= MAX_WORDS
        assert all(p.text.split()[0].endswith("k0") for p in passages[1:])
        assert passages[-1].end == chunk.end


@given(
    cue_words=st.lists(st.integers(min_value=1, max_value=2 * MAX_WORDS), min_size=1, max_size=30)
)
def test_any_timed_chunk_is_covered_by_runs_of_whole_cues(cue_words: list[int]) -> None:
    text, metadata = timed_chunk(cue_words)
    boundaries = cue_boundaries(metadata, len(text.split()))
    long_cues = [
        range(offset + 1, offset + count)
        for (offset, _), count in zip(metadata["moments"], cue_words, strict=True)
        if count > MAX_WORDS
    ]

    passages = chunk_passages(text, metadata)

    assert_covers_every_word_once_in_order(text, passages)
    assert_timed_like_its_cues(passages, metadata)
    assert all(len(p.text.split()) <= MAX_WORDS for p in passages)
    for passage in passages:
        # A passage starts at a cue's start, or inside a cue too long for one passage.
        inside_a_long_cue = any(passage.word_offset in cue for cue in long_cues)
        assert passage.word_offset in boundaries or inside_a_long_cue
