"""Picking the sentences of retrieved passages that best match a question, without a model."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.services.text_units import AFTER_A_SENTENCE


@dataclass(frozen=True, slots=True)
class Quote:
    """A sentence an answer may quote, chosen for the question (app/services/answers.py)."""

    number: int  # the citation it comes from
    text: str
    seconds: float | None  # when it is said
    score: float
    hit: Any = None  # the found passage it is a sentence of (a ChunkHit), when known


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved excerpt that an answer may cite as [number], with the sentences of it
    already chosen for the question, when they were."""

    number: int
    text: str
    quotes: tuple[Quote, ...] = ()


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# Words too common to tell passages apart.
STOPWORDS = frozenset(
    """
    a an and are as at be but by did do does for from had has have he her his how i if in into is
    it its me my of on or our she so than that the their them then there these they this to was
    we were what when where which who why will with would you your about said say says tell talk
    video videos
    """.split()  # noqa: SIM905 - a word list reads better as text
)


def terms(text: str) -> set[str]:
    """The words of `text` that say something: lower-cased, without stopwords."""
    return {word for word in _WORD.findall(text.lower()) if word not in STOPWORDS}


def best_sentences(question: str, passages: Sequence[Passage], limit: int) -> list[tuple[int, str]]:
    """Up to `limit` (passage number, sentence) pairs sharing the most words with the question;
    better passages win ties. With no overlap at all, the start of the first passage."""
    wanted = terms(question)
    scored: list[tuple[int, int, int, int, str]] = []
    for order, passage in enumerate(passages):
        for position, sentence in enumerate(AFTER_A_SENTENCE.split(passage.text)):
            overlap = len(wanted & terms(sentence))
            if overlap:
                scored.append((overlap, -order, -position, passage.number, sentence.strip()))
    if not scored:
        return [(p.number, p.text[:300].strip()) for p in passages[:1]]
    best = sorted(scored, reverse=True)[:limit]
    return [(number, sentence) for *_, number, sentence in best]
