"""How well computed chapters find the topic changes marked in `talks/chapters.json`.

    python -m tests.retrieval.chapters_report [--vectors tfidf|embedding]

For each talk: its captions are cut into chunks and passages exactly as when stored, the
chapters are found (app/services/chapters/finding.py), and each marked change counts as found
when a computed chapter starts within 60 s of it. Precision is the share of computed starts
within 60 s of a marked change. Reported per split: tune on `tuning`, report `test`.
"""

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from app.core.config import get_settings
from app.db.repositories import OutlinePassage
from app.services.chapters.finding import Block, outline
from app.services.chapters.storing import blocks_and_vectors
from app.services.embeddings.factory import offline_provider
from app.services.transcript_text import ChunkOptions, prepare_text
from testkit.corpus import TALKS_DIR, load_talks

TOLERANCE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Score:
    marked: int
    found: int
    computed: int
    near: int

    @property
    def recall(self) -> float:
        return self.found / self.marked if self.marked else 1.0

    @property
    def precision(self) -> float:
        return self.near / self.computed if self.computed else 1.0


def score(marked: Sequence[float], computed: Sequence[float]) -> Score:
    found = sum(any(abs(m - c) <= TOLERANCE_SECONDS for c in computed) for m in marked)
    near = sum(any(abs(m - c) <= TOLERANCE_SECONDS for m in marked) for c in computed)
    return Score(len(marked), found, len(computed), near)


def talk_blocks(segments: Sequence[tuple[str, float, float]]) -> list[Block]:
    settings = get_settings()
    prepared = prepare_text(list(segments), ChunkOptions.of(settings))
    passages = [
        OutlinePassage(chunk.index, passage.index, passage.start, passage.end, passage.text, None)
        for chunk in prepared.chunks
        for passage in chunk.passages
    ]
    blocks, _ = blocks_and_vectors(passages)  # as the app finds them, before any vector
    return blocks


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", choices=("tfidf", "embedding"), default="embedding")
    arguments = parser.parse_args()
    marks = json.loads((TALKS_DIR / "chapters.json").read_text(encoding="utf-8"))["talks"]
    talks = {talk.video_id: talk for talk in load_talks()}
    provider = offline_provider(get_settings().offline_embedding_model)
    totals: dict[str, list[Score]] = {}
    evenly: dict[str, list[Score]] = {}
    for name, marked in marks.items():
        talk = talks[marked["video_id"]]
        blocks = talk_blocks([(s.text, s.start, s.duration) for s in talk.segments])
        vectors = None
        if arguments.vectors == "embedding":
            vectors = await provider.embed_passages([block.text for block in blocks])
        began = time.perf_counter()
        found = outline(blocks, vectors, language=talk.language)
        took = time.perf_counter() - began
        starts = [chapter.start for chapter in found.chapters[1:]]
        result = score([change["second"] for change in marked["changes"]], starts)
        totals.setdefault(marked["split"], []).append(result)
        evenly.setdefault(marked["split"], []).append(
            score([change["second"] for change in marked["changes"]], spaced(blocks, len(starts)))
        )
        print(
            f"{marked['split']:6} {name[:34]:34} marked {result.marked:2} computed "
            f"{result.computed:2} recall {result.recall:.2f} precision {result.precision:.2f}"
            f"  ({took * 1000:.0f} ms)"
        )
    for split, scores in sorted(totals.items()):
        merged, baseline = summed(scores), summed(evenly[split])
        print(
            f"{split}: recall {merged.recall:.2f} precision {merged.precision:.2f} "
            f"(marked {merged.marked}, computed {merged.computed}); as many chapters evenly "
            f"spaced: recall {baseline.recall:.2f} precision {baseline.precision:.2f}"
        )


def summed(scores: Sequence[Score]) -> Score:
    fields = ("marked", "found", "computed", "near")
    return Score(*(sum(getattr(score, name) for score in scores) for name in fields))


def spaced(blocks: Sequence[Block], count: int) -> list[float]:
    """The baseline: `count` chapter starts evenly spaced over the talk."""
    first, last = blocks[0].start, blocks[-1].end
    return [first + (last - first) * (index + 1) / (count + 1) for index in range(count)]


if __name__ == "__main__":
    asyncio.run(main())
