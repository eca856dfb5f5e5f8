"""When a found passage is said: its start and end, and the caption that holds the question's
words (the moment a link opens the video at)."""

from typing import Any

from app.db.repositories import ChunkHit


def start_seconds(hit: ChunkHit) -> float | None:
    """When the passage found is said: its own start, or its chunk's when found as a chunk."""
    if hit.passage is not None and hit.passage.start_seconds is not None:
        return hit.passage.start_seconds
    value = hit.metadata.get("start_seconds")
    return float(value) if value is not None else None


def end_seconds(hit: ChunkHit) -> float | None:
    if hit.passage is not None and hit.passage.end_seconds is not None:
        return hit.passage.end_seconds
    value = hit.metadata.get("end_seconds")
    return float(value) if value is not None else None


# Words too common to locate anything by.
_COMMON_WORDS = """
the and for are but not you all any can had her was one our out has him his how its may new
now old see two who did does get got let say she too use what when where which while with why
will would could should about after again also been before being from have here into just like
more most much only other over some such than that them then there these they this those
through very were your said
"""
_COMMON = frozenset(_COMMON_WORDS.split())
_LOCATE_WINDOW = 15  # words: about one caption


def _stem(word: str) -> str:
    return word.lower().strip(".,;:!?\"'()[]")[:6]


def _stems(text: str) -> set[str]:
    return {stem for stem in map(_stem, text.split()) if len(stem) >= 3} - _COMMON


def moment_seconds(hit: ChunkHit, question: str) -> float | None:
    """When the passage that answers is said: the start of the caption where the stretch of
    the passage (or, found as a chunk, of the chunk) holding most of the question's words
    begins; the passage's start when the question shares no word with it (a paraphrase, a
    question in another language) or the text has no caption timings."""
    moments = hit.metadata.get("moments")
    wanted = _stems(question)
    # Words of the video's title name the video, not the moment: locate by the others.
    wanted = (wanted - _stems(hit.title or "")) or wanted
    if not moments or not wanted:
        return start_seconds(hit)
    text, first = hit.chunk_text, 0
    if hit.passage is not None:
        text, first = hit.passage.text, hit.passage.word_offset
    stems = [_stem(word) for word in text.split()]
    best_offset, best_found = 0, 0
    for offset, stem in enumerate(stems):
        if stem in wanted:
            found = len(wanted.intersection(stems[offset : offset + _LOCATE_WINDOW]))
            if found > best_found:
                best_offset, best_found = offset, found
    if best_found == 0:
        return start_seconds(hit)
    return caption_second(moments, first + best_offset, start_seconds(hit))


def caption_second(moments: Any, word_offset: int, fallback: float | None) -> float | None:
    """When the word at `word_offset` of a chunk is said: the start of the caption holding it
    (`moments`: the chunk's [word offset, seconds] of each caption start, in order)."""
    if not isinstance(moments, list):
        return fallback
    said = [float(seconds) for offset, seconds in moments if int(offset) <= word_offset]
    return said[-1] if said else fallback
