"""Which language a transcript is spoken in, and a question asked in, read from their words.

Retrieval compares a question with passages in several languages, and the embedding model rates
a passage in the question's own language higher than an equally relevant one in another
(app/services/retrieval/ranking.py). Knowing each transcript's language lets the ranking compare
like with like. Captions carry no reliable language of their own (uploads name none), so it is
read from the words: py3langid, a naive Bayes model over byte n-grams whose weights ship inside
its wheel (97 languages, about 2 ms for the sample read here). A chat answer's own words are in
the language its question was asked in (app/services/wording.py).
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


def question_language(question: str) -> str | None:
    """The ISO 639-1 code of the language a question is most likely in, however unsure: a
    question is a few words ("wie lange?" is read as German at 0.33), and the answer is only
    worded in its language when that is one the service speaks (app/services/wording.py), so
    a wrong guess costs no more than English would. The model loads on first use (about 0.4 s):
    call it off the event loop."""
    if not any(character.isalpha() for character in question):
        return None
    language, _ = _identifier().classify(question[:SAMPLE_CHARACTERS])
    return str(language) if len(language) == 2 else None
