"""The language a transcript is spoken in, read by the model py3langid ships in its wheel."""

import pytest

from app.services.language import spoken_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Thank you all for joining us on the call this afternoon.", "en"),
        ("Muchas gracias a todos por acompañarnos esta tarde en la conferencia.", "es"),
        ("Vielen Dank, dass Sie heute Nachmittag an der Sitzung teilnehmen.", "de"),
        ("Merci à tous d'être avec nous cet après-midi pour cette conférence.", "fr"),
        ("Dziękuję wszystkim za udział w dzisiejszej konferencji prasowej.", "pl"),
    ],
)
def test_the_language_of_a_sentence(text: str, language: str) -> None:
    assert spoken_language(text) == language


def test_a_text_without_words_has_no_language() -> None:
    assert spoken_language("") is None
    assert spoken_language("12:30 -- 45 ... 2021") is None


def test_only_the_beginning_of_a_long_transcript_is_read() -> None:
    """A long transcript is read from its first pages: its language, in milliseconds."""
    spanish = "Buenas tardes, hoy hablamos de la vacuna y de su distribución en el país. " * 200
    assert spoken_language(spanish + "Good afternoon and thank you. " * 5_000) == "es"


@pytest.mark.parametrize("text", ["hello friends", "hello world metadata"])
def test_a_few_words_too_few_to_tell_have_no_language(text: str) -> None:
    """Read as Italian and as Nigerian Fulfulde (`fuv`, no ISO 639-1 code), each at a
    probability of about a tenth."""
    assert spoken_language(text) is None
