"""What every step that cuts text counts as a word and a sentence, in every script."""

import unicodedata

from app.services.answers import sentences
from app.services.chapters.finding import words as chapter_words
from app.services.text_units import MAX_OTHER_RUN, MAX_RUN, spaced

# Two sentences on the Great Wall, with no space between them.
FIRST = (
    "\u660e\u957f\u57ce\u5168\u957f\u5927\u7ea6"
    "\u516b\u5343\u516b\u767e\u4e94\u5341\u516c\u91cc\u3002"
)
SECOND = "\u516b\u8fbe\u5cad\u957f\u57ce\u662f\u6e38\u5ba2\u6700\u591a\u7684\u4e00\u6bb5\u3002"
CHINESE = FIRST + SECOND


def test_sentences_of_a_script_without_spaces_are_words_of_their_own() -> None:
    assert spaced(CHINESE).split() == [FIRST, SECOND]
    assert [text for _, text in sentences(spaced(CHINESE))] == [FIRST, SECOND]
    assert spaced("Hindi\u0964next") == "Hindi\u0964 next"


def test_latin_text_is_left_as_it_is() -> None:
    text = "Feed your starter twice a day. Keep it somewhere warm! Yes."
    assert spaced(text) == text
    said = [s for _, s in sentences(text)]
    assert said == ["Feed your starter twice a day.", "Keep it somewhere warm! Yes."]


def test_text_is_stored_composed_as_questions_are_typed() -> None:
    decomposed = unicodedata.normalize("NFD", "r\u00e9frig\u00e9rateur")
    assert spaced(decomposed) == "r\u00e9frig\u00e9rateur"


def test_a_run_without_spaces_is_cut_and_no_letter_loses_its_marks() -> None:
    thai = "\u0e01\u0e34" * 100  # a consonant and its vowel sign, in a script without spaces
    hindi = "\u0915\u093f" * 600  # the same in Devanagari, written with spaces: cut later
    for run, size in ((thai, MAX_RUN), (hindi, MAX_OTHER_RUN)):
        pieces = spaced(run).split()
        assert len(pieces) > 1
        assert all(len(piece) <= size for piece in pieces)
        assert "".join(pieces) == run
        assert all(unicodedata.category(piece[0]) == "Lo" for piece in pieces)


def test_a_link_and_a_run_of_marks_stay_whole() -> None:
    link = "https://www.youtube.com/playlist?list=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI&index=12&t=33s"
    marks = "\u306a\u306b\uff1f\uff01\u672c\u5f53"  # "what?! really": no space inside "?!"

    assert spaced(link) == link
    assert spaced(marks) == "\u306a\u306b\uff1f\uff01 \u672c\u5f53"


def test_a_word_keeps_its_vowel_signs_and_accents() -> None:
    hindi = "\u0928\u092e\u0938\u094d\u0924\u0947 \u0938\u092c\u0938\u0947"  # namaste sabse
    decomposed = unicodedata.normalize("NFD", "cr\u00e8me br\u00fbl\u00e9e")

    assert chapter_words(hindi) == hindi.split()
    assert chapter_words(decomposed) == decomposed.split()
    assert chapter_words("don't stop, well-known 3rd") == ["don't", "stop", "well-known", "rd"]


def test_runs_of_marks_and_brackets_stay_with_their_sentence() -> None:
    question = "\u884c\u304f\uff1f\uff01"  # "going?!"
    quoted = "\u300c\u672c\u5f53\uff1f\uff01\u300d"  # a quoted "really?!"

    assert spaced(question) == question
    assert spaced(quoted) == quoted
    assert spaced(quoted + "\u305d\u3046") == quoted + " \u305d\u3046"


def test_a_run_of_marks_alone_is_cut_in_linear_time() -> None:
    marks = "a" + "\u0301" * 100_000
    assert "".join(spaced(marks).split()) == unicodedata.normalize("NFC", marks)
