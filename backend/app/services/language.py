"""Which language a transcript is spoken in, read from its text.

Retrieval compares a question with passages in several languages, and the embedding model rates
a passage in the question's own language higher than an equally relevant one in another
(app/services/retrieval/ranking.py). Knowing each transcript's language lets the ranking compare
like with like. Captions carry no reliable language of their own (uploads name none), so it is
read from the words: py3langid, a naive Bayes model over byte n-grams whose weights ship inside
its wheel (97 languages, about 2 ms for the sample read here).
"""

from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# Enough words to be sure of the language, few enough to keep it a few milliseconds.
SAMPLE_CHARACTERS = 10_000
# Below this probability the text is too short or too mixed to tell ("hello friends" read as
# Italian at 0.11, "hello world metadata" as Nigerian Fulfulde at 0.07); a talk's captions are
# read at 0.98 and more.
MIN_PROBABILITY = 0.5


@cache
def _identifier() -> LanguageIdentifier:
    # Decompressing the model takes about 0.4 s: once per process, on first use.
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def spoken_language(text: str) -> str | None:
    """The ISO 639-1 code of the language `text` is in (e.g. "en"), or None when it has too
    few words to tell by, or is in a language without a two-letter code (the model knows a few,
    such as `wuu`). CPU-bound: call it off the event loop."""
    sample = text[:SAMPLE_CHARACTERS]
    if not any(character.isalpha() for character in sample):
        return None
    language, probability = _identifier().classify(sample)
    if probability < MIN_PROBABILITY or len(language) != 2:
        return None
    return str(language)
