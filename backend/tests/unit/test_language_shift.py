"""What a passage's language costs it in similarity to a question (ranking.language_shift)."""

import pytest

from app.services.retrieval.ranking import language_shift

# An English question's mean similarity to the everyday paragraphs of each language.
ENGLISH_QUESTION = {"en": 0.762, "es": 0.738, "de": 0.737, "fr": 0.741, "pl": 0.735}


def test_a_passage_in_the_questions_own_language_costs_nothing() -> None:
    assert language_shift(ENGLISH_QUESTION, "en") == 0.0


def test_a_passage_in_another_language_costs_its_distance_from_the_questions_own() -> None:
    assert language_shift(ENGLISH_QUESTION, "de") == pytest.approx(-0.025)
    assert language_shift(ENGLISH_QUESTION, "pl") == pytest.approx(-0.027)


def test_an_unknown_language_or_one_without_paragraphs_costs_nothing() -> None:
    assert language_shift(ENGLISH_QUESTION, None) == 0.0
    assert language_shift(ENGLISH_QUESTION, "ja") == 0.0
    assert language_shift({}, "de") == 0.0
