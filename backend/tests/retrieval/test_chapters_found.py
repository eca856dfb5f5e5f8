"""Computed chapters start near the topic changes marked in the test split's talks (from words
alone here; `python -m tests.retrieval.chapters_report` reports with embeddings too)."""

import json

import pytest

from app.services.chapters.finding import outline
from testkit.corpus import TALKS_DIR, load_talks
from tests.retrieval.chapters_report import score, summed, talk_blocks


@pytest.mark.slow
def test_most_marked_topic_changes_of_unseen_talks_are_found_within_a_minute() -> None:
    marks = json.loads((TALKS_DIR / "chapters.json").read_text(encoding="utf-8"))["talks"]
    talks = {talk.video_id: talk for talk in load_talks()}
    scores = []
    for marked in marks.values():
        if marked["split"] != "test":
            continue
        talk = talks[marked["video_id"]]
        blocks = talk_blocks([(s.text, s.start, s.duration) for s in talk.segments])
        found = outline(blocks, None, language=talk.language)
        starts = [chapter.start for chapter in found.chapters[1:]]
        scores.append(score([change["second"] for change in marked["changes"]], starts))

    total = summed(scores)
    assert len(scores) >= 5
    assert total.recall >= 0.7, total
    assert total.precision >= 0.55, total
