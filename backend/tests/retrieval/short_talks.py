"""Short talks cut from the labelled ones (`make eval` with --short-talks WORDS): how the "not in
your videos" decision fares on a library of a few passages, where a best passage is the best of
few and stands out less than in a long talk.

Each talk is cut into windows of about WORDS words (whole captions), each stored for a user of
its own and embedded as an upload is. An answerable question is asked of the window holding its
answer quote (a quote cut by a window's end is left out); an unanswerable one of every window of
its split, so near-topic questions meet the windows on their subject among the others.
"""

from dataclasses import dataclass, replace
from uuid import UUID

from app.core.config import Settings
from app.db.session import Database
from app.services.chunking import Segment
from app.services.embeddings.base import EmbeddingProvider
from app.services.passage_embeddings import Embedder
from app.services.retrieval import Ranking, embed_question, retrieve
from testkit.corpus import Question, Talk, load_questions, load_talks, normalise_space
from tests.factories import make_user
from tests.retrieval.evaluation import holds_answer, store_talks


@dataclass(frozen=True, slots=True)
class ShortAsk:
    question: Question
    declined: bool


def windows(talk: Talk, words: int) -> list[Talk]:
    """The talk in windows of whole captions, each of at least `words` words (a last one of
    fewer than half as many is left out)."""
    cut: list[list[Segment]] = [[]]
    count = 0
    for segment in talk.segments:
        cut[-1].append(segment)
        count += len(segment.text.split())
        if count >= words:
            cut.append([])
            count = 0
    if count < words / 2:
        cut.pop()
    return [
        replace(talk, video_id=f"{talk.video_id[:7]}w{number:03d}", segments=tuple(window))
        for number, window in enumerate(cut)
    ]


async def ask_short_talks(
    url: str, settings: Settings, model: EmbeddingProvider, words: int
) -> list[ShortAsk]:
    database = Database(settings.with_database_url(url))
    libraries: dict[str, list[tuple[UUID, Talk]]] = {}
    talks = load_talks()
    split_of = {talk.video_id: talk.split for talk in talks}
    try:
        async with database.unit_of_work() as session:
            for talk in talks:
                for window in windows(talk, words):
                    user = await make_user(session, f"{window.video_id.lower()}@example.com")
                    await store_talks(session, user.id, [window], settings)
                    libraries.setdefault(talk.video_id, []).append((user.id, window))
        await Embedder(settings, factory=lambda _: model).embed_missing(database.unit_of_work)
        asked = []
        ranking = Ranking.of(settings)
        for question in load_questions():
            if question.answer is not None:
                quote = normalise_space(question.answer)
                asked_of = [
                    user_id
                    for user_id, window in libraries.get(question.video_id or "", [])
                    if holds_answer(window.text, quote)
                ]
            else:
                asked_of = [
                    user_id
                    for video_id, cut in libraries.items()
                    if split_of[video_id] == question.split
                    for user_id, _ in cut
                ]
            vector = await embed_question(model, question.text)
            for user_id in asked_of:
                async with database.unit_of_work() as session:
                    found = await retrieve(
                        session, user_id, question.text, query_vector=vector, ranking=ranking
                    )
                asked.append(ShortAsk(question, not found.answerable))
    finally:
        await database.dispose()
    return asked


def short_talks_table(asked: list[ShortAsk]) -> dict[str, tuple[float | None, int]]:
    def declined(flags: list[ShortAsk]) -> tuple[float | None, int]:
        return (sum(a.declined for a in flags) / len(flags) if flags else None, len(flags))

    unanswerable = [a for a in asked if not a.question.answerable]
    near = [a for a in unanswerable if a.question.subkind == "near_topic"]
    return {
        "short talks: answerable wrongly declined": declined(
            [a for a in asked if a.question.answerable]
        ),
        "short talks: unanswerable declined": declined(unanswerable),
        "  near-topic (short talks)": declined(near),
        "  off-topic (short talks)": declined([a for a in unanswerable if a not in near]),
    }
