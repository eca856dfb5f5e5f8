"""Finding chapters: where topics change, titles from a chapter's own words, and a video's own
chapters from its description."""

from app.db.repositories import OutlinePassage
from app.services.chapters.finding import (
    Block,
    central_sentences,
    outline,
    parse_description_chapters,
    stop_words,
    title,
)
from app.services.chapters.storing import blocks_and_vectors

BREAD = (
    "The sourdough starter needs flour and water; feed the starter, knead the dough, bake the loaf."
)
ROCKETS = (
    "The rocket engine burns fuel and oxygen; the booster lands, the orbit rises, the capsule "
    "docks."
)


def talk_of(*topics: tuple[str, int]) -> list[Block]:
    blocks, second = [], 0.0
    for text, count in topics:
        for _ in range(count):
            blocks.append(Block(second, second + 40.0, text))
            second += 40.0
    return blocks


def test_a_change_of_topic_starts_a_chapter_titled_from_its_words() -> None:
    found = outline(talk_of((BREAD, 8), (ROCKETS, 8)), None, language="en")

    assert [chapter.start for chapter in found.chapters] == [0.0, 320.0]
    assert "starter" in found.chapters[0].title.lower()
    assert (
        "rocket" in found.chapters[1].title.lower() or "booster" in found.chapters[1].title.lower()
    )
    assert found.chapters[1].summary.startswith("The rocket engine")
    assert found.source == "computed"


def test_one_topic_throughout_is_one_chapter() -> None:
    found = outline(talk_of((BREAD, 12)), None, language="en")

    assert [chapter.start for chapter in found.chapters] == [0.0]
    assert found.chapters[0].end == 480.0


def test_vectors_find_the_change_when_words_differ_throughout() -> None:
    blocks = [Block(i * 40.0, i * 40.0 + 40, f"words {i} alone here") for i in range(16)]
    vectors = [[1.0, 0.0] if i < 8 else [0.0, 1.0] for i in range(16)]

    found = outline(blocks, vectors, language="en")

    assert [chapter.start for chapter in found.chapters] == [0.0, 320.0]


def test_a_description_lists_chapters_by_youtubes_rule() -> None:
    listed = "Intro text\n0:00 Welcome\n(1:05) Flour - and water\n1:02:03 | Questions"
    assert parse_description_chapters(listed) == [
        (0.0, "Welcome"),
        (65.0, "Flour - and water"),
        (3723.0, "Questions"),
    ]
    assert parse_description_chapters("0:00 A\n0:05 B\n1:00 C") is None  # under ten seconds
    assert parse_description_chapters("0:10 A\n1:00 B\n2:00 C") is None  # not from 0:00
    assert parse_description_chapters("0:00 A\n1:00 B") is None  # fewer than three
    assert parse_description_chapters(None) is None


def test_overlapping_passages_of_two_chunks_count_once_and_untimed_ones_not_at_all() -> None:
    passages = [
        OutlinePassage(0, 0, 0.0, 40.0, "first", [1.0]),
        OutlinePassage(0, 1, 40.0, 80.0, "second", [1.0]),
        OutlinePassage(1, 0, 60.0, 80.0, "repeat of the overlap", [1.0]),
        OutlinePassage(1, 1, 80.0, 120.0, "third", None),
        OutlinePassage(2, 0, None, None, "untimed", None),
    ]

    blocks, vectors = blocks_and_vectors(passages)

    assert [block.text for block in blocks] == ["first", "second", "third"]
    assert vectors is None  # one of them has no vector: words decide


def test_listed_chapters_past_the_end_of_the_talk_are_left_out() -> None:
    """A description may list the chapters of a longer cut: those starting after the last word
    would run backwards and quote nothing. Fewer than three left, the chapters are found."""
    talk = talk_of((BREAD, 8), (ROCKETS, 8))  # 640 s
    listed = "0:00 Bread\n5:20 Rockets\n9:00 Landing\n20:00 Beyond the end"

    found = outline(talk, None, description=listed, language="en")
    too_few = outline(talk[:2], None, description=listed, language="en")  # 80 s

    assert [(c.start, c.end, c.title) for c in found.chapters] == [
        (0.0, 320.0, "Bread"),
        (320.0, 540.0, "Rockets"),
        (540.0, 640.0, "Landing"),
    ]
    assert found.source == "description"
    assert too_few.source == "computed"
    assert all(c.start <= c.end for c in too_few.chapters)


def test_a_title_writes_its_words_as_the_talk_does() -> None:
    """German nouns keep their capitals, as names and acronyms do; a word capitalised only at
    a sentence's start is written as it is elsewhere."""
    text = (
        "Die Wärmepumpe im Altbau braucht eine niedrige Vorlauftemperatur. Eine Wärmepumpe "
        "ist leise. Die Vorlauftemperatur sollte unter fünfzig Grad liegen, sagt die OSHA. "
        "Heizkörper sind groß. Im Altbau sind Heizkörper oft zu klein."
    )

    named = title(text, [["haus", "dach"]], stop_words("de"))

    assert set(named.split(", ")) == {"Wärmepumpe", "Altbau", "Vorlauftemperatur"}


def test_a_summary_quotes_whole_sentences_not_the_ends_a_chapter_was_cut_at() -> None:
    """A chapter's text starts and ends where captions do: its first words may end a sentence
    said before it, its last begin one said after."""
    text = (
        "feed the sourdough starter every morning with flour and water. "
        "A sourdough starter needs flour and water every single day. "
        "Knead the sourdough dough for ten minutes before you bake. "
        "Then the sourdough starter and the flour and the water make"
    )

    summary = central_sentences(text, stop_words("en"), 2)

    assert summary == [
        "A sourdough starter needs flour and water every single day.",
        "Knead the sourdough dough for ten minutes before you bake.",
    ]


def test_a_summary_of_cut_sentences_only_says_where_they_are_cut() -> None:
    text = "and then the starter rises overnight. So the loaf bakes in a hot oven and"

    summary = central_sentences(text, stop_words("en"), 2)

    assert summary == [
        "…and then the starter rises overnight.",
        "So the loaf bakes in a hot oven and…",
    ]
