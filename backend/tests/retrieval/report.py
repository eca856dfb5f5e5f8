"""`make eval`: the labelled sets (testkit/corpus.py) through the service's own pipeline, with
its default settings, scored per set, split (tuning / test) and kind of question.

The talks are stored and embedded as an upload is, in a throw-away database (or a kept one:
--database-url reuses the libraries already stored there): the long talks as one user's
library, each short talk as a library of its own. Each question is asked as search and chat ask
it. Prints a table per set; --dump writes each question's candidates and signals as JSON, for
fitting the ranking and the "not in your videos" decision on the tuning splits.
"""

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.core.config import BACKEND_DIR, Settings, get_settings
from app.db.migrations import run_alembic
from app.db.models import User
from app.services.answers import answer_sentences
from app.services.embeddings.base import EmbeddingProvider
from app.services.embeddings.factory import build_embedding_provider
from app.services.passage_embeddings import Embedder
from app.services.retrieval import (
    Citation,
    RankedHit,
    Ranking,
    Retrieval,
    embed_question,
    retrieve,
)
from testkit.corpus import LONG_TALKS, VIEWER_TALKS, Question, Talk
from testkit.database import create_database, drop_database, test_server_url
from testkit.recorded_embeddings import RecordedEmbeddings
from tests.factories import make_user
from tests.retrieval.evaluation import (
    holds_answer,
    libraries_asked,
    overlaps_answer,
    store_talks,
)
from tests.retrieval.short_talks import ask_short_talks, short_talks_table

EVAL_EMAIL = "labelled-set@example.com"
EVAL_RECORDING = BACKEND_DIR / ".data" / "eval-vectors.npz"
OTHER_LANGUAGES = ("en", "es", "de", "fr", "pl")  # of the other-language questions
TOP = 5
TOP_PASSAGES = 3

TARGETS: dict[str, tuple[str, float]] = {
    "hit@5 all answerable": (">=", 0.90),
    "hit@5 paraphrase": (">=", 0.80),
    "hit@5 other language": (">=", 0.75),
    "answer cites the passage (paraphrase)": (">=", 0.70),
    "unanswerable declined": (">=", 0.85),
    "  near-topic declined": (">=", 0.70),
    "answerable wrongly declined": ("<=", 0.05),
    "short talks: answerable wrongly declined": ("<=", 0.05),
}


@dataclass(frozen=True, slots=True)
class Asked:
    question: Question
    retrieval: Retrieval
    quoted: list[tuple[int, str]]  # the offline answer's sentences, with citation numbers
    cited: list[Citation]
    background: float | None  # the model's everyday level the decision measured against

    @property
    def hit(self) -> bool:
        return any(self._holds(ranked) for ranked in self.retrieval.hits[:TOP])

    @property
    def declined(self) -> bool:
        return not self.retrieval.answerable

    @property
    def answer_in_top_passages(self) -> bool:
        """One of the best passages (not chunks: a short talk is five chunks) says the answer."""
        answer = self.question.answer or ""
        return any(
            r.hit.passage is not None
            and r.hit.youtube_video_id == self.question.video_id
            and overlaps_answer(r.hit.passage.text, answer)
            for r in self.retrieval.passages[:TOP_PASSAGES]
        )

    @property
    def answer_cites_passage(self) -> bool:
        """A citation of the answer is a passage that holds the answer."""
        answer = self.question.answer or ""
        return any(
            c.hit.youtube_video_id == self.question.video_id
            and overlaps_answer(c.hit.passage.text if c.hit.passage else c.hit.chunk_text, answer)
            for c in self.cited
        )

    @property
    def quote_holds_answer(self) -> bool:
        answer = self.question.answer or ""
        return any(overlaps_answer(sentence, answer) for _, sentence in self.quoted)

    def _holds(self, ranked: RankedHit) -> bool:
        return ranked.hit.youtube_video_id == self.question.video_id and holds_answer(
            ranked.hit.chunk_text, self.question.answer or ""
        )


def share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def score_table(asked: Sequence[Asked]) -> dict[str, tuple[float | None, int]]:
    answerable = [a for a in asked if a.question.answerable]
    unanswerable = [a for a in asked if not a.question.answerable]

    def kind(name: str) -> list[Asked]:
        return [a for a in answerable if a.question.kind == name]

    near = [a for a in unanswerable if a.question.subkind == "near_topic"]
    rows: dict[str, list[bool]] = {
        "hit@5 all answerable": [a.hit for a in answerable],
        "hit@5 verbatim": [a.hit for a in kind("verbatim")],
        "hit@5 paraphrase": [a.hit for a in kind("paraphrase")],
        "hit@5 other language": [a.hit for a in kind("other_language")],
        "hit@5 misspelt": [a.hit for a in answerable if a.question.subkind == "typo"],
        f"answer in the {TOP_PASSAGES} best passages": [
            a.answer_in_top_passages for a in answerable
        ],
        **{
            f"  asked in {language}": [
                a.hit for a in kind("other_language") if a.question.language == language
            ]
            for language in OTHER_LANGUAGES
        },
        "answer cites the passage (paraphrase)": [
            a.answer_cites_passage for a in kind("paraphrase")
        ],
        "answer cites the passage (other language)": [
            a.answer_cites_passage for a in kind("other_language")
        ],
        "quoted sentence holds the answer (paraphrase)": [
            a.quote_holds_answer for a in kind("paraphrase")
        ],
        "unanswerable declined": [a.declined for a in unanswerable],
        "  near-topic declined": [a.declined for a in near],
        "  off-topic declined": [a.declined for a in unanswerable if a not in near],
        "answerable wrongly declined": [a.declined for a in answerable],
    }
    return {name: (share(flags), len(flags)) for name, flags in rows.items()}


def print_table(tables: dict[str, dict[str, tuple[float | None, int]]]) -> None:
    splits = list(tables)
    header = f"{'':<46}" + "".join(f"{split:>14}" for split in splits) + f"{'target':>10}"
    print(header)
    for row in next(iter(tables.values())):
        cells = ""
        for split in splits:
            value, count = tables[split][row]
            cells += f"{'-':>14}" if value is None else f"{value:>8.2f} ({count:>3})"
        target = TARGETS.get(row)
        verdict = ""
        if target is not None:
            value = tables[splits[-1]][row][0]
            op, bound = target
            passed = value is not None and (value >= bound if op == ">=" else value <= bound)
            verdict = f"{op} {bound:.2f} {'PASS' if passed else 'FAIL'}"
        print(f"{row:<46}{cells}  {verdict}")


async def ensure_libraries(
    url: str, settings: Settings, model: EmbeddingProvider, libraries: dict[str, Sequence[Talk]]
) -> dict[str, UUID]:
    """Each library's talks stored and embedded for a user of its own (the key is the user's
    e-mail); reuses what is there. Returns each library's user."""
    await run_alembic(url)
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            yield session
            await session.commit()

    users = {}
    for email, talks in libraries.items():
        async with unit_of_work() as session:
            user = await session.scalar(select(User).where(User.email == email))
            if user is None:
                user = await make_user(session, email)
                await store_talks(session, user.id, talks, settings)
            users[email] = user.id
    started = time.perf_counter()
    embedded = await Embedder(settings, factory=lambda _: model).embed_missing(unit_of_work)
    if embedded:
        print(f"embedded {embedded} passages in {time.perf_counter() - started:.1f} s")
    await engine.dispose()
    return users


async def ask_all(
    url: str, asks: Sequence[tuple[Question, UUID]], settings: Settings, provider: EmbeddingProvider
) -> list[Asked]:
    """Each question asked of its user's library as chat asks it."""
    engine = create_async_engine(url)
    asked = []
    try:
        for question, user_id in asks:
            vector = await embed_question(provider, question.text)
            async with AsyncSession(engine) as session:
                retrieval = await retrieve(
                    session,
                    user_id,
                    question.text,
                    query_vector=vector,
                    limit=max(TOP, settings.chat_context_chunks),
                    ranking=Ranking.of(settings),
                )
            citations = Citation.numbered(retrieval.supporting(), question.text)
            quoted = await answer_sentences(
                question.text,
                citations,
                provider,
                retrieval.passages,
                vector.vector if vector else None,
            )
            numbers = {number for number, _ in quoted}
            cited = [c for c in citations if c.number in numbers]
            background = vector.background.everyday_level if vector and vector.background else None
            asked.append(Asked(question, retrieval, quoted, cited, background))
    finally:
        await engine.dispose()
    return asked


async def ask_long_talks(url: str, settings: Settings, model: EmbeddingProvider) -> list[Asked]:
    """Every question of the long talks asked of one library holding all of them."""
    users = await ensure_libraries(url, settings, model, {EVAL_EMAIL: LONG_TALKS.talks()})
    user_id = users[EVAL_EMAIL]
    return await ask_all(url, [(q, user_id) for q in LONG_TALKS.questions()], settings, model)


async def ask_viewer_talks(url: str, settings: Settings, model: EmbeddingProvider) -> list[Asked]:
    """Each short talk a library of its own, as when someone pastes one video: a question is
    asked of its talk's, an unanswerable one of the talk it is about, else of every talk of its
    split."""
    talks = VIEWER_TALKS.talks()
    emails = {talk.video_id: f"{talk.video_id.lower()}@viewer-talks.example.com" for talk in talks}
    users = await ensure_libraries(
        url, settings, model, {emails[talk.video_id]: [talk] for talk in talks}
    )
    library = {video_id: users[email] for video_id, email in emails.items()}
    asks = [
        (question, user_id)
        for question in VIEWER_TALKS.questions()
        for user_id in libraries_asked(question, talks, library)
    ]
    return await ask_all(url, asks, settings, model)


def dump(asked: dict[str, list[Asked]], path: Path) -> None:
    rows: list[dict[str, Any]] = []
    for labelled_set, a in ((name, a) for name, of_set in asked.items() for a in of_set):
        q = a.question
        rows.append(
            {
                "set": labelled_set,
                "text": q.text,
                "kind": q.kind,
                "subkind": q.subkind,
                "language": q.language,
                "split": q.split,
                "answerable": q.answerable,
                "declined": a.declined,
                "background": a.background,
                "df": list(a.retrieval.words.counts) if a.retrieval.words else [],
                "passages": [
                    {
                        "chunk_id": str(r.hit.chunk_id),
                        "score": r.score,
                        "text": r.hit.passage.text if r.hit.passage else None,
                        "video_id": r.hit.youtube_video_id,
                        "similarity": r.similarity,
                        "coverage": r.hit.coverage,
                        "rank": r.hit.rank,
                        "matched_terms": r.hit.matched_terms,
                        "query_terms": r.hit.query_terms,
                        "holds": a._holds(r),
                        "passage_holds": bool(
                            r.hit.passage
                            and r.hit.youtube_video_id == q.video_id
                            and overlaps_answer(r.hit.passage.text, q.answer or "")
                        ),
                    }
                    for r in a.retrieval.passages
                ],
                "hits": [
                    {
                        "video_id": r.hit.youtube_video_id,
                        "similarity": r.similarity,
                        "score": r.score,
                        "coverage": r.hit.coverage,
                        "rank": r.hit.rank,
                        "matched_terms": r.hit.matched_terms,
                        "query_terms": r.hit.query_terms,
                        "holds": a._holds(r),
                        "passage": r.hit.passage.text if r.hit.passage else None,
                    }
                    for r in a.retrieval.hits
                ],
            }
        )
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


async def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="keep the library in this database")
    parser.add_argument("--dump", type=Path, help="write each question's signals here")
    parser.add_argument(
        "--short-talks",
        type=int,
        metavar="WORDS",
        help="also ask windows of WORDS words cut from the talks (tests/retrieval/short_talks.py)",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    # The model's vectors of this set's texts, kept between runs on this machine: a second
    # run embeds only what changed (chunking, questions, quoted sentences) or another model's.
    model = RecordedEmbeddings(build_embedding_provider(settings), EVAL_RECORDING)
    server = test_server_url()  # starts the embedded test server when it is the one used
    url = args.database_url or await create_database(server, "ytt_eval")
    short_url = await create_database(server, "ytt_short") if args.short_talks else None
    try:
        asked = {
            LONG_TALKS.name: await ask_long_talks(url, settings, model),
            VIEWER_TALKS.name: await ask_viewer_talks(url, settings, model),
        }
        if short_url is not None:
            await run_alembic(short_url)
            short = await ask_short_talks(short_url, settings, model, args.short_talks)
        model.save()
        print(f"{model.embedded_live} texts embedded by the model, {len(model.replayed)} replayed")
    finally:
        await model.aclose()
        if not args.database_url:
            await drop_database(url)
        if short_url is not None:
            await drop_database(short_url)
    if args.dump:
        dump(asked, args.dump)
    for name, asked_of_set in asked.items():
        tables = {
            split: score_table([a for a in asked_of_set if a.question.split == split])
            for split in ("tuning", "test")
        }
        if short_url is not None and name == LONG_TALKS.name:
            for split, table in tables.items():
                table |= short_talks_table([a for a in short if a.question.split == split])
        print(f"\n{name}")
        print_table(tables)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
