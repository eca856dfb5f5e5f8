"""The bare server the HTTP benchmarks measure the app against: Starlette on a raw asyncpg pool,
running the same SQL as the app's repositories for the same endpoints, with the same bearer-token
check, and answering JSON of the same shape. It skips input validation and the OpenAPI response
models: that is part of what the app costs.

Served by uvicorn as `benchmarks.harness.bare_server:bare_app --factory` (servers.BARE_TARGET);
DATABASE_URL names its database.
"""

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.dialects import postgresql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.core.config import Settings, get_settings
from app.core.security import token_digest
from app.db.repositories import NewChunk
from app.db.repositories import conversation as conversation_repository
from app.db.repositories import message as message_repository
from app.db.repositories.chunk import (
    _LEXEMES,
    _MATCHING_CHUNKS,
    QueryWords,
    count_words_sql,
    search_sql,
)
from app.services.chat import NOT_IN_VIDEOS, SYSTEM_PROMPT, title_from
from app.services.chunking import chunk_text, count_tokens, get_tokenizer
from app.services.extract import Passage, best_sentences
from app.services.llm import OfflineExtractiveModel
from app.services.retrieval import Ranking, timestamp_label
from app.services.youtube import watch_url
from benchmarks.harness.api import API
from benchmarks.harness.database import (
    INSERT_CHUNK,
    SELECT_LAST_MESSAGES,
    asyncpg_dsn,
    chunk_record,
)

# Authentication in one query, as UserRepository.get_by_session_token makes it.
SELECT_SESSION_USER = (
    "SELECT users.* FROM users JOIN sessions ON sessions.user_id = users.id "
    "WHERE sessions.token_hash = $1 AND sessions.expires_at > statement_timestamp()"
)
SELECT_OWNED_CONVERSATION = "SELECT * FROM conversations WHERE id = $1 AND user_id = $2"
INSERT_CONVERSATION = (
    "INSERT INTO conversations (user_id, title) VALUES ($1, $2) "
    "RETURNING id, title, created_at, updated_at"
)
SET_TITLE = "UPDATE conversations SET title = $2 WHERE id = $1"
INSERT_MESSAGE = (
    "INSERT INTO messages (conversation_id, role, content, metadata) VALUES ($1, $2, $3, $4) "
    "RETURNING id, created_at"
)
INSERT_USAGE = (
    "INSERT INTO usage_events (user_id, kind, provider, model, prompt_tokens, completion_tokens) "
    "VALUES ($1, 'chat', $2, $3, $4, $5)"
)
INSERT_TRANSCRIPT = (
    "INSERT INTO transcripts (user_id, youtube_video_id, transcript_text, title, channel_name, "
    "duration, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "RETURNING id, youtube_video_id, title, channel_name, duration, metadata, created_at"
)
_NAMED_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")  # `:name`, not the `::type` of a cast


def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """SQLAlchemy's `:name` parameters as asyncpg's `$n`, and the names in `$n` order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return _NAMED_PARAMETER.sub(number, sql), tuple(names)


def repository_sql(statement: Any) -> tuple[str, tuple[str, ...]]:
    """A repository's prepared statement as asyncpg SQL, and its parameters' names in order."""
    return positional(str(statement.compile(dialect=postgresql.dialect(paramstyle="named"))))  # type: ignore[no-untyped-call]


# The hot reads' own statements (ConversationRepository, MessageRepository).
IS_OWNED = repository_sql(conversation_repository._IS_OWNED)
CONVERSATION_PAGE = repository_sql(conversation_repository._PAGE_FOR_USER)
MESSAGE_PAGE = repository_sql(message_repository._PAGE_FOR_CONVERSATION)

# ChunkRepository.query_words's and .search's own SQL text.
LEXEMES = positional(_LEXEMES.text)
SEARCH = positional(search_sql(_MATCHING_CHUNKS))
# The columns after the transcript's: ts_headline, then the matched and the query's lexemes.
MATCHED_TERMS, QUERY_TERMS = 9, 10
CHAT_ROLES = ("user", "assistant")  # the history's roles build_prompt keeps

AuthenticatedHandler = Callable[[Request, asyncpg.Connection, asyncpg.Record], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def error(status_code: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status_code)


def json_value(column: str, value: Any) -> Any:
    if column in ("metadata", "metadata_json"):
        return json.loads(value)  # asyncpg returns jsonb as text
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def jsonable(record: asyncpg.Record) -> dict[str, Any]:
    return {
        column.removesuffix("_json"): json_value(column, value) for column, value in record.items()
    }


async def fetch_page(
    connection: asyncpg.Connection, query: tuple[str, tuple[str, ...]], **params: Any
) -> tuple[list[asyncpg.Record], int]:
    """A page and its total from one of the repositories' page statements: the count comes
    first in each row, and an empty page is one row with NULLs after it."""
    sql, names = query
    records = await connection.fetch(sql, *(params[name] for name in names))
    rows = [record for record in records if record["id"] is not None]
    return [dict(list(record.items())[1:]) for record in rows], records[0][0]


def page(records: Sequence[asyncpg.Record], total: int, limit: int, offset: int) -> JSONResponse:
    items = [jsonable(record) for record in records]
    return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})


def page_bounds(request: Request, default_limit: int) -> tuple[int, int]:
    query = request.query_params
    return int(query.get("limit", default_limit)), int(query.get("offset", 0))


async def authenticated_user(
    request: Request, connection: asyncpg.Connection
) -> asyncpg.Record | None:
    """The caller's user row, found as the app finds it: one query joining the live session
    with this token hash to its user."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return await connection.fetchrow(SELECT_SESSION_USER, token_digest(token))


def authenticated(handler: AuthenticatedHandler) -> Endpoint:
    """One pooled connection per request, as the app holds one session per request."""

    async def endpoint(request: Request) -> Response:
        async with request.app.state.pool.acquire() as connection:
            user = await authenticated_user(request, connection)
            if user is None:
                return error(401, "unauthorized", "Missing or invalid credentials.")
            return await handler(request, connection, user)

    return endpoint


async def owned_conversation(
    request: Request, connection: asyncpg.Connection, user: asyncpg.Record
) -> asyncpg.Record | None:
    conversation_id: uuid.UUID = request.path_params["conversation_id"]
    return await connection.fetchrow(SELECT_OWNED_CONVERSATION, conversation_id, user["id"])


async def conversation_is_owned(
    request: Request, connection: asyncpg.Connection, user: asyncpg.Record
) -> bool:
    """ConversationRepository.is_owned_by's statement."""
    sql, names = IS_OWNED
    params = {"conversation_id": request.path_params["conversation_id"], "user_id": user["id"]}
    return bool(await connection.fetchval(sql, *(params[name] for name in names)))


async def list_conversations(
    request: Request, connection: asyncpg.Connection, user: asyncpg.Record
) -> Response:
    limit, offset = page_bounds(request, default_limit=20)
    records, total = await fetch_page(
        connection, CONVERSATION_PAGE, user_id=user["id"], limit=limit, offset=offset
    )
    return page(records, total, limit, offset)


async def create_conversation(
    request: Request, connection: asyncpg.Connection, user: asyncpg.Record
) -> Response:
    body = await request.json()
    conversation = await connection.fetchrow(INSERT_CONVERSATION, user["id"], body.get("title"))
    return JSONResponse(jsonable(conversation), status_code=201)


async def list_messages(
    request: Request, connection: asyncpg.Connection, user: asyncpg.Record
) -> Response:
    if not await conversation_is_owned(request, connection, user):
        return error(404, "not_found", "Conversation not found")
    limit, offset = page_bounds(request, default_limit=50)
    conversation_id = request.path_params["conversation_id"]
    records, total = await fetch_page(
        connection, MESSAGE_PAGE, conversation_id=conversation_id, limit=limit, offset=offset
    )
    return page(records, total, limit, offset)


async def search(
    connection: asyncpg.Connection, user_id: uuid.UUID, question: str, settings: Settings
) -> list[asyncpg.Record]:
    """What `retrieve` finds: every word, failing that any of them; then the coverage filter."""
    sql, names = LEXEMES
    row = await connection.fetchrow(sql, *({"query": question}[name] for name in names))
    terms = tuple(row["terms"] or ())
    chunks: tuple[int, ...] = ()
    if terms:
        sql, names = positional(count_words_sql(len(terms)))
        counted = {"user_id": user_id} | {f"term_{n}": term for n, term in enumerate(terms)}
        chunks = tuple(await connection.fetchrow(sql, *(counted[name] for name in names)))
    words = QueryWords(terms, chunks, row["websearch"] or None)
    values: dict[str, Any] = {
        "user_id": user_id,
        "transcript_ids": None,
        "limit": settings.chat_context_chunks,
        "terms": list(terms),
        "term_counts": list(chunks),
    }
    hits: list[asyncpg.Record] = []
    sql, names = SEARCH
    for tsquery in (words.websearch, words.any_word_query()):
        values["tsquery"] = tsquery
        values["ranked_cap"] = words.ranked_matches_cap(
            "all" if tsquery == words.websearch else "any"
        )
        hits = await connection.fetch(sql, *(values[name] for name in names))
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


async def ask(request: Request, connection: asyncpg.Connection, user: asyncpg.Record) -> Response:
    """A chat turn as the app runs it with the offline model, in the same two transactions:
    the question (with the history read, the title and the search), then the answer."""
    settings = get_settings()
    body = await request.json()
    question: str = body["content"]
    if len(question) > settings.message_max_chars:
        limit = settings.message_max_chars
        return error(422, "validation_error", f"The message is longer than {limit} characters.")
    conversation = await owned_conversation(request, connection, user)
    if conversation is None:
        return error(404, "not_found", "Conversation not found")
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
        hits = await search(connection, user["id"], question, settings)
    answer, metadata = offline_answer(question, history, hits)
    async with connection.transaction():
        stored_answer = await connection.fetchrow(
            INSERT_MESSAGE, conversation_id, "assistant", answer, json.dumps(metadata)
        )
        if "usage" in metadata:
            await connection.execute(
                INSERT_USAGE,
                user["id"],
                metadata["provider"],
                metadata["model"],
                metadata["usage"]["prompt_tokens"],
                metadata["usage"]["completion_tokens"],
            )
    exchange = {
        "user_message": message_json(stored_question, conversation_id, "user", question, {}),
        "assistant_message": message_json(
            stored_answer, conversation_id, "assistant", answer, metadata
        ),
    }
    return JSONResponse(exchange, status_code=201)


async def create_transcript(
    request: Request, connection: asyncpg.Connection, user: asyncpg.Record
) -> Response:
    body = await request.json()
    settings = get_settings()
    options = (settings.chunk_tokens, settings.chunk_overlap, settings.tokenizer_encoding)
    # In a thread, as the app does: tokenising 10,000 words would stall the event loop.
    pieces = await asyncio.to_thread(chunk_text, body["transcript_text"], *options)
    async with connection.transaction():
        transcript = await connection.fetchrow(
            INSERT_TRANSCRIPT,
            user["id"],
            body["video"],
            body["transcript_text"],
            body.get("title"),
            body.get("channel_name"),
            body.get("duration"),
            json.dumps(body.get("metadata", {})),
        )
        chunks = [
            NewChunk(transcript["id"], user["id"], piece.index, piece.text, piece.token_count)
            for piece in pieces
        ]
        await connection.executemany(INSERT_CHUNK, [chunk_record(chunk) for chunk in chunks])
    return JSONResponse({**jsonable(transcript), "chunk_count": len(pieces)}, status_code=201)


async def database_health(request: Request) -> Response:
    await request.app.state.pool.fetchval("SELECT 1")
    return JSONResponse({"status": "ok", "database": "up"})


@asynccontextmanager
async def bare_lifespan(app: Starlette) -> AsyncIterator[None]:
    settings = get_settings()
    # Loaded up front, as the app's lifespan does, so that no measured request pays for it.
    await asyncio.to_thread(get_tokenizer, settings.tokenizer_encoding)
    # Sized like the app's SQLAlchemy pool; both open connections as the load needs them.
    dsn = asyncpg_dsn(settings.require_database_url())
    app.state.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=settings.db_pool_size)
    try:
        yield
    finally:
        await app.state.pool.close()


def bare_app() -> Starlette:
    """The uvicorn factory for the bare server; DATABASE_URL names its database."""
    messages = f"{API}/conversations/{{conversation_id:uuid}}/messages"
    return Starlette(
        routes=[
            Route("/health/db", database_health),
            Route(f"{API}/conversations", authenticated(list_conversations)),
            Route(f"{API}/conversations", authenticated(create_conversation), methods=["POST"]),
            Route(messages, authenticated(list_messages)),
            Route(messages, authenticated(ask), methods=["POST"]),
            Route(f"{API}/transcripts", authenticated(create_transcript), methods=["POST"]),
        ],
        lifespan=bare_lifespan,
    )
