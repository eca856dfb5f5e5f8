"""The language a question is asked in, for the words of its answer (app/services/wording.py)."""

import pytest

from app.services.language import question_language
from app.services.wording import WORDS, words_in


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("how long do you boil an egg", "en"),
        ("¿cuánto cuesta?", "es"),
        ("wie lange?", "de"),  # read as German at a probability of a third: still the best guess
        ("combien ça coûte", "fr"),
        ("ile to kosztuje", "pl"),
        ("Quanto costa il biglietto del tram?", "it"),
    ],
)
def test_a_short_question_is_read_in_its_language(question: str, language: str) -> None:
    assert question_language(question) == language


def test_a_question_without_words_has_no_language() -> None:
    assert question_language("???") is None
    assert question_language("") is None


def test_a_language_the_service_does_not_speak_is_answered_in_english() -> None:
    assert words_in("it") is WORDS["en"]
    assert words_in(None) is WORDS["en"]
    assert words_in("pl") is WORDS["pl"]
