"""Chapters from a transcript's words: where its topics change, a title and a short summary for
each, and a summary of the whole. Pure CPU work on plain values: it runs in a worker process
(app/services/chapters/__init__.py gathers the passages and stores the result).

**Where topics change** (TextTiling, Hearst 1997, on vectors): the transcript is a row of
passages (runs of whole captions, 75 to 120 words, ~40 s), each a vector: its embedding when the
passages have one, else its words weighted by tf-idf. At every gap between two passages, the
vectors of the `WINDOW` passages before and after are averaged and compared (cosine). A topic
change shows as a valley of that similarity; its depth is how far it lies below the highest
points on either side. Only valleys (no higher than the gaps beside them) count; they are
taken deepest first, each at least `MIN_CHAPTER_SECONDS` from
the others and from both ends, until the depth falls under the mean depth less half a standard
deviation (TextTiling's own cut) or there are as many chapters as `SECONDS_PER_CHAPTER` allows.

**Titles** are the chapter's most telling words (tf-idf against the other chapters, stop words
of the transcript's language left out), the best adjacent pair first. **Summaries** are its most
central sentences (closest, in tf-idf, to the chapter as a whole), in the order they are said.

**A video's own chapters**: a description whose lines start with times (the first at 0:00, at
least three, rising, each ten seconds or more: YouTube's rule) gives the chapters instead.
"""

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import stopwordsiso

from app.services.text_units import AFTER_A_SENTENCE, ENDS_A_SENTENCE, WORD

# Fitted on the tuning split of the marked talks (tests/retrieval/chapters_report.py):
# passages averaged on each side of a gap; no chapter shorter than MIN_CHAPTER_SECONDS, and no
# more of them than one per SECONDS_PER_CHAPTER of talk.
WINDOW = 4
MIN_CHAPTER_SECONDS = 90.0
SECONDS_PER_CHAPTER = 150.0
# Sentences of a chapter's summary, and the longest a quoted sentence may be.
SUMMARY_SENTENCES = 2
LONG_CHAPTER_SECONDS = 300.0
MAX_SENTENCE_WORDS = 40
TITLE_WORDS = 3
# A gap this shallow is no valley at all (a talk on one topic throughout).
NO_CHANGE = 1e-6

# "0:00 Intro", "(1:02:03) - Questions": a time, an optional separator, the title.
_TIMESTAMP_LINE = re.compile(
    r"^\s*[-\u2022*]?\s*\(?((?:\d{1,2}:)?\d{1,2}:\d{2})\)?\s*[-\u2013\u2014:|.]?\s*(.+?)\s*$"
)


@dataclass(frozen=True, slots=True)
class Block:
    """One passage as segmentation sees it."""

    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class FoundChapter:
    start: float
    end: float
    title: str
    summary: str


@dataclass(frozen=True, slots=True)
class Outline:
    chapters: list[FoundChapter]
    summary: str
    source: str  # "description" or "computed"
    texts: list[str] = field(default_factory=list)  # each chapter's words, for the model


def words(text: str) -> list[str]:
    return [match.group(0).lower() for match in WORD.finditer(text)]


@cache
def stop_words(language: str) -> frozenset[str]:
    return (
        frozenset(stopwordsiso.stopwords(language))
        if stopwordsiso.has_lang(language)
        else frozenset()
    )


LANGUAGES = ("en", "es", "de", "fr", "pt", "it", "nl")


def guess_language(tokens: Sequence[str]) -> str:
    """The language whose stop words make up most of the text (they are its commonest words)."""
    sample = tokens[:3000]
    return max(LANGUAGES, key=lambda language: sum(t in stop_words(language) for t in sample))


def content_words(text: str, stop: frozenset[str]) -> list[str]:
    return [word for word in words(text) if len(word) > 2 and word not in stop]


def tfidf_matrix(documents: Sequence[list[str]]) -> np.ndarray:
    """Rows of tf-idf weights (log-scaled counts), each of unit length."""
    vocabulary: dict[str, int] = {}
    for document in documents:
        for word in document:
            vocabulary.setdefault(word, len(vocabulary))
    matrix = np.zeros((len(documents), max(len(vocabulary), 1)))
    for row, document in enumerate(documents):
        for word, count in Counter(document).items():
            matrix[row, vocabulary[word]] = 1 + math.log(count)
    document_frequency = np.count_nonzero(matrix, axis=0)
    matrix *= np.log((1 + len(documents)) / (1 + document_frequency)) + 1
    return unit_rows(matrix)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def gap_similarities(vectors: np.ndarray, window: int | None = None) -> np.ndarray:
    """For the gap before each passage (from the second on): how alike the passages before and
    after it are."""
    window = window or WINDOW
    similarities = np.ones(len(vectors))
    for gap in range(1, len(vectors)):
        before = vectors[max(0, gap - window) : gap].mean(axis=0)
        after = vectors[gap : gap + window].mean(axis=0)
        norm = np.linalg.norm(before) * np.linalg.norm(after)
        similarities[gap] = float(before @ after / norm) if norm else 1.0
    return similarities


def depth_scores(similarities: np.ndarray) -> np.ndarray:
    """How deep a valley each gap is: the climb to the highest point on each side, summed."""
    depths = np.zeros(len(similarities))
    for gap in range(1, len(similarities)):
        left = similarities[1 : gap + 1].max()
        right = similarities[gap:].max()
        depths[gap] = (left - similarities[gap]) + (right - similarities[gap])
    return depths


def boundaries(blocks: Sequence[Block], vectors: np.ndarray) -> list[int]:
    """The passages each chapter starts at (the first is 0)."""
    if len(blocks) < 2 * WINDOW:
        return [0]
    similarities = gap_similarities(vectors)
    depths = depth_scores(similarities)
    inner = depths[1:]
    cut = inner.mean() - inner.std() / 2
    duration = blocks[-1].end - blocks[0].start
    most = max(1, int(duration // SECONDS_PER_CHAPTER))
    chosen: list[int] = []
    for gap in sorted(range(1, len(blocks)), key=lambda g: depths[g], reverse=True):
        if len(chosen) + 1 >= most or depths[gap] < cut or depths[gap] <= NO_CHANGE:
            break
        if is_valley(similarities, gap) and far_enough(blocks, gap, chosen):
            chosen.append(gap)
    return [0, *sorted(chosen)]


def is_valley(similarities: np.ndarray, gap: int) -> bool:
    """No lower than the gaps beside it: a slope leading down to a change is not one."""
    before = similarities[gap - 1] if gap > 1 else np.inf
    after = similarities[gap + 1] if gap + 1 < len(similarities) else np.inf
    return bool(similarities[gap] <= before and similarities[gap] <= after)


def far_enough(blocks: Sequence[Block], gap: int, chosen: Sequence[int]) -> bool:
    start = blocks[gap].start
    if (
        start - blocks[0].start < MIN_CHAPTER_SECONDS
        or blocks[-1].end - start < MIN_CHAPTER_SECONDS
    ):
        return False
    return all(abs(start - blocks[other].start) >= MIN_CHAPTER_SECONDS for other in chosen)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a chapter, or a run of one: `begins`/`ends` say whether it starts and ends
    where the speaker's sentence does. A chapter's text is its passages', cut where captions
    end, so its first words may be the end of a sentence said before it and its last the start
    of one said after; a sentence longer than MAX_SENTENCE_WORDS is cut in runs."""

    text: str
    begins: bool
    ends: bool

    @property
    def whole(self) -> bool:
        return self.begins and self.ends

    def as_written(self) -> str:
        """The text, with an ellipsis where it does not begin or end a sentence."""
        return f"{'' if self.begins else '…'}{self.text}{'' if self.ends else '…'}"


def sentences(text: str) -> list[Sentence]:
    """Sentences, or runs of at most MAX_SENTENCE_WORDS words where captions lack punctuation;
    none of fewer than five words."""
    pieces: list[Sentence] = []
    for sentence in AFTER_A_SENTENCE.split(text.strip()):
        tokens = sentence.split()
        if not tokens:
            continue
        # In a script with capitals, a sentence begins with one (a caption file's lines after
        # a full stop can be the rest of a sentence repeated).
        begins = not tokens[0][:1].islower()
        ends = ENDS_A_SENTENCE.search(tokens[-1]) is not None
        for start in range(0, len(tokens), MAX_SENTENCE_WORDS):
            run = tokens[start : start + MAX_SENTENCE_WORDS]
            last = start + MAX_SENTENCE_WORDS >= len(tokens)
            if len(run) >= 5:
                pieces.append(Sentence(" ".join(run), begins and start == 0, ends and last))
    return pieces


def central_sentences(text: str, stop: frozenset[str], count: int) -> list[str]:
    """The `count` sentences closest to the text as a whole, in the order they are said: whole
    sentences when the text has as many (a summary of cut ones reads "…regardless of what"),
    each written with an ellipsis where it is cut."""
    candidates = sentences(text)
    if len(candidates) > count:
        documents = [content_words(sentence.text, stop) for sentence in candidates]
        matrix = tfidf_matrix([*documents, [w for d in documents for w in d]])
        scores = matrix[:-1] @ matrix[-1]
        whole = sum(sentence.whole for sentence in candidates) >= count
        eligible = [i for i, c in enumerate(candidates) if c.whole or not whole]
        best = sorted(sorted(eligible, key=lambda i: -scores[i])[:count])
        candidates = [candidates[index] for index in best]
    return [sentence.as_written() for sentence in candidates]


def title(text: str, others: Sequence[list[str]], stop: frozenset[str]) -> str:
    """The chapter's most telling words: an adjacent pair when one stands out, then single
    words, in the order they first come."""
    own = content_words(text, stop)
    if not own:
        return "…"
    weights = term_weights(own, others)
    tokens = words(text)
    pairs = Counter(
        (first, second)
        for first, second in itertools.pairwise(tokens)
        if first in weights and second in weights and first != second
    )
    chosen: list[str] = []
    if pairs:
        pair, seen = max(
            pairs.items(), key=lambda item: (item[1] > 1, weights[item[0][0]] + weights[item[0][1]])
        )
        if seen > 1:
            chosen.extend(pair)
    for word in sorted(weights, key=weights.__getitem__, reverse=True):
        if len(chosen) >= TITLE_WORDS:
            break
        if word not in chosen:
            chosen.append(word)
    first_seen = {word: index for index, word in reversed(list(enumerate(tokens)))}
    ordered = sorted(dict.fromkeys(chosen), key=lambda word: first_seen.get(word, 0))
    written = as_written(text)
    phrase = ", ".join(written.get(word, word) for word in ordered)
    return phrase[:1].upper() + phrase[1:]


def as_written(text: str) -> dict[str, str]:
    """Each word as the text writes it most often: "Wärmepumpe", "PostgreSQL" and "OSHA" keep
    their capitals, and "honey" capitalised at a sentence's start stays "honey"."""
    forms: dict[str, Counter[str]] = {}
    for match in WORD.finditer(text):
        written = match.group(0)
        forms.setdefault(written.lower(), Counter())[written] += 1
    return {word: counts.most_common(1)[0][0] for word, counts in forms.items()}


def term_weights(own: list[str], others: Sequence[list[str]]) -> dict[str, float]:
    counts = Counter(own)
    documents = len(others) + 1
    weights = {}
    for word, count in counts.items():
        frequency = 1 + sum(word in set(other) for other in others)
        weights[word] = (1 + math.log(count)) * math.log(1 + documents / frequency)
    return weights


def parse_description_chapters(description: str | None) -> list[tuple[float, str]] | None:
    """A description's own chapters by YouTube's rule, or None."""
    if not description:
        return None
    found: list[tuple[float, str]] = []
    for line in description.splitlines():
        match = _TIMESTAMP_LINE.match(line)
        if match:
            found.append((clock_seconds(match.group(1)), match.group(2)[:300]))
    if len(found) < 3 or found[0][0] != 0:
        return None
    starts = [start for start, _ in found]
    if any(later - earlier < 10 for earlier, later in itertools.pairwise(starts)):
        return None
    return found


def said_chapters(
    listed: list[tuple[float, str]] | None, talk_end: float
) -> list[tuple[float, str]] | None:
    """The listed chapters that start before the transcript ends, if they are still three or
    more (YouTube's rule): a description may list the chapters of a longer cut of the video,
    and a chapter starting after the last word would run backwards and quote nothing."""
    said = [chapter for chapter in listed or () if chapter[0] < talk_end]
    return said if len(said) >= 3 else None


def clock_seconds(clock: str) -> float:
    seconds = 0
    for part in clock.split(":"):
        seconds = seconds * 60 + int(part)
    return float(seconds)


def chapter_texts(blocks: Sequence[Block], starts: Sequence[float]) -> list[str]:
    bounds = [*starts[1:], math.inf]
    return [
        " ".join(block.text for block in blocks if start <= block.start < end)
        for start, end in zip(starts, bounds, strict=True)
    ]


def outline(
    blocks: Sequence[Block],
    vectors: Sequence[Sequence[float]] | None,
    description: str | None = None,
    language: str | None = None,
) -> Outline:
    """The chapters of a transcript given as passages in the order they are said."""
    if not blocks:
        return Outline([], "", "computed")
    tokens = words(" ".join(block.text for block in blocks))
    stop = stop_words(
        language if language and stopwordsiso.has_lang(language) else guess_language(tokens)
    )
    own = said_chapters(parse_description_chapters(description), blocks[-1].end)
    if own is not None:
        starts, titles = [start for start, _ in own], [name for _, name in own]
        source = "description"
    else:
        matrix = (
            unit_rows(np.asarray(vectors, dtype=float))
            if vectors is not None
            else tfidf_matrix([content_words(block.text, stop) for block in blocks])
        )
        starts = [blocks[index].start for index in boundaries(blocks, matrix)]
        titles, source = [], "computed"
    texts = chapter_texts(blocks, starts)
    documents = [content_words(text, stop) for text in texts]
    ends = [*starts[1:], blocks[-1].end]
    chapters = []
    for index, (start, end, text) in enumerate(zip(starts, ends, texts, strict=True)):
        others = documents[:index] + documents[index + 1 :]
        count = SUMMARY_SENTENCES + (end - start > LONG_CHAPTER_SECONDS)
        name = titles[index] if titles else title(text, others, stop)
        chapters.append(
            FoundChapter(start, end, name, " ".join(central_sentences(text, stop, count)))
        )
    return Outline(chapters, video_summary(chapters, texts, stop), source, texts)


def video_summary(
    chapters: Sequence[FoundChapter], texts: Sequence[str], stop: frozenset[str]
) -> str:
    """The most central sentence of each of the three longest chapters, in order."""
    longest = sorted(range(len(chapters)), key=lambda i: chapters[i].end - chapters[i].start)[-3:]
    picked = [central_sentences(texts[index], stop, 1) for index in sorted(longest)]
    return " ".join(sentence for found in picked for sentence in found)
