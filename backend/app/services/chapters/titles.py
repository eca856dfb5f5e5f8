"""Chapter titles and summaries written by the language model, when one is configured.

The chapters are found from the words (app/services/chapters/finding.py); the model only names
them: one request per transcript, each chapter given by its start and its first words, the
answer one line per chapter, `n | title | summary`. An answer that does not give every chapter
its line is not used: the chapters keep the titles found from their own words.
"""

import re
from collections.abc import Sequence
from dataclasses import replace

from app.services.chapters.finding import FoundChapter, Outline
from app.services.llm import ChatMessage, LanguageModel, LanguageModelError, Usage
from app.services.retrieval.citations import timestamp_label

WORDS_PER_CHAPTER = 160
_LINE = re.compile(r"^\s*(\d+)\s*[|.)]\s*(.+?)\s*\|\s*(.+?)\s*$")

SYSTEM = (
    "You name the chapters of a video from its transcript. For each chapter you are given its "
    "number, its start time and its first words. Answer with exactly one line per chapter, in "
    "order, and nothing else: `NUMBER | TITLE | SUMMARY`, the title at most eight words, the "
    "summary two sentences, both in the transcript's language, from what is said only."
)


def prompt(chapters: Sequence[FoundChapter], texts: Sequence[str]) -> list[ChatMessage]:
    parts = [
        f"Chapter {number} ({timestamp_label(chapter.start)}): "
        + " ".join(text.split()[:WORDS_PER_CHAPTER])
        for number, (chapter, text) in enumerate(zip(chapters, texts, strict=True), start=1)
    ]
    return [ChatMessage("system", SYSTEM), ChatMessage("user", "\n\n".join(parts))]


def parsed(answer: str, count: int) -> list[tuple[str, str]] | None:
    """(title, summary) for chapters 1..count, or None unless every one has its line."""
    found: dict[int, tuple[str, str]] = {}
    for line in answer.splitlines():
        match = _LINE.match(line.strip().strip("`"))
        if match and 1 <= int(match.group(1)) <= count:
            found.setdefault(int(match.group(1)), (match.group(2)[:300], match.group(3)))
    if len(found) != count:
        return None
    return [found[number] for number in range(1, count + 1)]


async def named_by_model(
    model: LanguageModel, outline: Outline, texts: Sequence[str]
) -> tuple[Outline, Usage | None]:
    """The outline with the model's titles and summaries, and what the request used. The
    outline as found when the model failed (no usage) or answered otherwise: what that answer
    used still counts, as the provider counts it."""
    if not outline.chapters:
        return outline, None
    try:
        completion = await model.complete(prompt(outline.chapters, texts), [])
    except LanguageModelError:
        return outline, None
    named = parsed(completion.text, len(outline.chapters))
    if named is None:
        return outline, completion.usage
    chapters = [
        replace(chapter, title=title, summary=summary)
        for chapter, (title, summary) in zip(outline.chapters, named, strict=True)
    ]
    return replace(outline, chapters=chapters, source="model"), completion.usage
