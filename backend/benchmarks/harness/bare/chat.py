"""The bare server's chat turn: what the messages endpoint does with the offline model, in raw
SQL and in the app's two transactions: the question (with the history read, the title and the
search), then the answer with its citations and the tokens it counts."""

import json
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from app.core.config import Settings, get_settings
from app.db.repositories import passage as passage_repository
from app.services.chat import NOT_IN_VIDEOS, SYSTEM_PROMPT, title_from
from app.services.chunking import count_tokens
from app.services.extract import Passage, best_sentences
from app.services.llm import OfflineExtractiveModel
from app.services.retrieval import Ranking, timestamp_label
from app.services.youtube.links import watch_url
from benchmarks.harness.bare.sql import (
    INSERT_MESSAGE,
    INSERT_USAGE,
    LEXEMES,
    SEARCH,
    SET_TITLE,
    positional,
)
from benchmarks.harness.database import SELECT_LAST_MESSAGES

# The columns after the transcript's: ts_headline, then the matched and the query's lexemes.
MATCHED_TERMS, QUERY_TERMS = 9, 10
CHAT_ROLES = ("user", "assistant")  # the history's roles build_prompt keeps


async def search(
    connection: asyncpg.Connection, user_id: uuid.UUID, question: str, settings: Settings
) -> list[asyncpg.Record]:
    """What `retrieve` finds: every word, failing that any of them; then the coverage filter."""
    row = await connection.fetchrow(LEXEMES.sql, *LEXEMES.arguments(query=question))
    terms = tuple(row["terms"] or ())
    chunks: tuple[int, ...] = ()
    if terms:
        count = positional(passage_repository.count_words_sql(len(terms)))
        counted = {f"term_{n}": term for n, term in enumerate(terms)}
        chunks = tuple(
            await connection.fetchrow(count.sql, *count.arguments(user_id=user_id, **counted))
        )
    words = passage_repository.QueryWords(terms, chunks, row["websearch"] or None)
    values: dict[str, Any] = {
        "user_id": user_id,
        "transcript_ids": None,
        "limit": settings.chat_context_chunks,
        "terms": list(terms),
        "term_counts": list(chunks),
    }
    hits: list[asyncpg.Record] = []
    for tsquery in (words.websearch, words.any_word_query()):
        values["tsquery"] = tsquery
        values["ranked_cap"] = words.ranked_matches_cap(
            "all" if tsquery == words.websearch else "any"
        )
        hits = await connection.fetch(SEARCH.sql, *SEARCH.arguments(**values))
        if hits:
            break
    return [hit for hit in hits if coverage(hit) >= Ranking().min_coverage]


def coverage(hit: asyncpg.Record) -> float:
    query_terms: int = hit[QUERY_TERMS]
    return hit[MATCHED_TERMS] / query_terms if query_terms else 0.0


def citation(number: int, hit: asyncpg.Record) -> dict[str, Any]:
    """`Citation.as_dict()` of a hit, with the prompt's heading for its excerpt."""
    metadata = json.loads(hit["metadata"])
    start = metadata.get("start_seconds")
    start = float(start) if start is not None else None
    return {
        "number": number,
        "transcript_id": str(hit["transcript_id"]),
        "chunk_id": str(hit["id"]),
        "chunk_index": hit["chunk_index"],
        "youtube_video_id": hit["youtube_video_id"],
        "title": hit["title"],
        "start_seconds": start,
        "end_seconds": metadata.get("end_seconds"),
        "moment_seconds": start,  # the app finds the passage's caption; a chunk has its start
        "url": watch_url(hit["youtube_video_id"], start),
    }


def excerpt(item: dict[str, Any], text: str) -> str:
    when = timestamp_label(item["start_seconds"])
    heading = f"[{item['number']}] {item['title'] or item['youtube_video_id']}"
    return heading + (f" at {when}" if when else "") + "\n" + text


def offline_answer(
    question: str, history: Sequence[asyncpg.Record], hits: Sequence[asyncpg.Record]
) -> tuple[str, dict[str, Any]]:
    """What OfflineExtractiveModel answers, and the answer's metadata with the tokens it
    counts (`estimate_usage`: the prompt's system, history and question, then the answer)."""
    settings = get_settings()
    if not hits:
        return NOT_IN_VIDEOS, {
            "grounded": False,
            "citations": [],
            "provider": None,
            "model": None,
            "offline": None,
            "partial": False,
        }
    citations = [citation(number, hit) for number, hit in enumerate(hits, start=1)]
    passages = [Passage(number, hit["chunk_text"]) for number, hit in enumerate(hits, start=1)]
    pairs = zip(citations, passages, strict=True)
    system = SYSTEM_PROMPT.format(excerpts="\n\n".join(excerpt(c, p.text) for c, p in pairs))
    prompt = [system, *(m["content"] for m in history if m["role"] in CHAT_ROLES), question]
    quoted = best_sentences(question, passages, OfflineExtractiveModel.max_sentences)
    lines = "\n".join(f"- {sentence} [{number}]" for number, sentence in quoted)
    answer = f"From your videos (quoted, no language model configured):\n{lines}"
    encoding = settings.tokenizer_encoding
    prompt_tokens = sum(count_tokens(content, encoding) for content in prompt)
    completion_tokens = count_tokens(answer, encoding)
    return answer, {
        "grounded": True,
        "citations": citations,
        "provider": OfflineExtractiveModel.provider,
        "model": OfflineExtractiveModel.model,
        "offline": True,
        "partial": False,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def message_json(
    stored: asyncpg.Record,
    conversation_id: uuid.UUID,
    role: str,
    content: str,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": str(stored["id"]),
        "conversation_id": str(conversation_id),
        "role": role,
        "content": content,
        "metadata": metadata,
        "created_at": stored["created_at"].isoformat(),
    }


async def chat_turn(
    connection: asyncpg.Connection, conversation: asyncpg.Record, user_id: uuid.UUID, question: str
) -> dict[str, Any]:
    """A chat turn as the app runs it with the offline model, in the same two transactions: the
    question (with the history read, the title and the search), then the answer."""
    settings = get_settings()
    conversation_id = conversation["id"]
    history: list[asyncpg.Record] = []
    async with connection.transaction():
        if settings.chat_history_messages:
            newest_first = await connection.fetch(
                SELECT_LAST_MESSAGES, conversation_id, settings.chat_history_messages
            )
            history = newest_first[::-1]
        stored_question = await connection.fetchrow(
            INSERT_MESSAGE, conversation_id, "user", question, "{}"
        )
        if conversation["title"] is None:
            await connection.execute(SET_TITLE, conversation_id, title_from(question))
        hits = await search(connection, user_id, question, settings)
    answer, metadata = offline_answer(question, history, hits)
    async with connection.transaction():
        stored_answer = await connection.fetchrow(
            INSERT_MESSAGE, conversation_id, "assistant", answer, json.dumps(metadata)
        )
        if "usage" in metadata:
            await connection.execute(
                INSERT_USAGE,
                user_id,
                metadata["provider"],
                metadata["model"],
                metadata["usage"]["prompt_tokens"],
                metadata["usage"]["completion_tokens"],
            )
    return {
        "user_message": message_json(stored_question, conversation_id, "user", question, {}),
        "assistant_message": message_json(
            stored_answer, conversation_id, "assistant", answer, metadata
        ),
    }
