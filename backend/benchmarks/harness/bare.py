"""The bare server the HTTP benchmarks measure the app against: Starlette on a raw asyncpg pool,
one connection per request, the app's repositories' own SQL (compiled for asyncpg) for the same
five endpoints, the same bearer-token check and JSON of the same shape; no input validation or
response models (part of what the app costs). `uvicorn benchmarks.harness.bare:bare_app
--factory`; DATABASE_URL names its database."""

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from asyncpg import Connection, Record
from sqlalchemy.dialects import postgresql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.core.config import get_settings
from app.core.security import token_digest
from app.db.repositories import NewChunk
from app.db.repositories import conversation as conversation_repository
from app.db.repositories import message as message_repository
from app.db.repositories import passage as passage_repository
from app.services.chat import SYSTEM_PROMPT, title_from
from app.services.chunking import get_tokenizer
from app.services.extract import Passage
from app.services.language import question_language
from app.services.llm import ChatMessage, OfflineExtractiveModel, estimate_usage
from app.services.retrieval import Ranking, timestamp_label
from app.services.transcript_text import ChunkOptions, prepare_text
from app.services.transcripts import new_passage
from app.services.wording import words_in
from app.services.youtube.links import watch_url
from benchmarks.harness import database as db
from benchmarks.harness.api import API

# Authentication in one query, as UserRepository.get_by_session_token makes it.
SELECT_SESSION_USER = (
    "SELECT users.* FROM users JOIN sessions ON sessions.user_id = users.id "
    "WHERE sessions.token_hash = $1 AND sessions.expires_at > statement_timestamp()"
)
SELECT_OWNED_CONVERSATION = "SELECT * FROM conversations WHERE id = $1 AND user_id = $2"
INSERT_CONVERSATION = (
    "INSERT INTO conversations (user_id, title) VALUES ($1, $2) "
    "RETURNING id, title, scope_transcript_ids AS transcript_ids, "
    "scope_collection_ids AS collection_ids, created_at, updated_at"
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
    "duration, metadata, word_count, language) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "RETURNING id, youtube_video_id, title, channel_name, duration, language, metadata, "
    "created_at"
)
_NAMED_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")  # `:name`, not the `::type` of a cast
MATCHED_TERMS, QUERY_TERMS = 9, 10  # a search hit's columns: after ts_headline
CHAT_ROLES = ("user", "assistant")  # the history's roles build_prompt keeps


@dataclass(frozen=True)
class Statement:
    """A repository's SQL for asyncpg: `$n` parameters, and their names in `$n` order."""

    sql: str
    names: tuple[str, ...]

    def arguments(self, **values: Any) -> list[Any]:
        return [values[name] for name in self.names]


def positional(sql: str) -> Statement:
    """SQLAlchemy's `:name` parameters as asyncpg's `$n`."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return Statement(_NAMED_PARAMETER.sub(number, sql), tuple(names))


def repository_sql(statement: Any) -> Statement:
    dialect = postgresql.dialect(paramstyle="named")  # type: ignore[no-untyped-call]
    return positional(str(statement.compile(dialect=dialect)))


IS_OWNED = repository_sql(conversation_repository.ConversationRepository.owned_statement())
CONVERSATION_PAGE = repository_sql(conversation_repository._PAGE_FOR_USER)
MESSAGE_PAGE = repository_sql(message_repository._PAGE_FOR_CONVERSATION)
LEXEMES = positional(passage_repository._LEXEMES.text)
SEARCH = positional(passage_repository.search_sql(passage_repository._MATCHING_PASSAGES))


# --- the chat turn with the offline model ---------------------------------------------------


async def search(connection: asyncpg.Connection, user_id: uuid.UUID, question: str) -> list[Any]:
    """What `retrieve` finds: every word, failing that any of them; then the coverage filter."""
    row = await connection.fetchrow(LEXEMES.sql, *LEXEMES.arguments(query=question))
    terms, counts = tuple(row["terms"] or ()), tuple[int, ...]()
    if terms:
        count = positional(passage_repository.count_words_sql(len(terms)))
        words = {f"term_{n}": term for n, term in enumerate(terms)}
        counts = tuple(
            await connection.fetchrow(count.sql, *count.arguments(user_id=user_id, **words))
        )
    query_words = passage_repository.QueryWords(terms, counts, row["websearch"] or None)
    hits: list[asyncpg.Record] = []
    for tsquery in (query_words.websearch, query_words.any_word_query()):
        reading = "all" if tsquery == query_words.websearch else "any"
        hits = await connection.fetch(SEARCH.sql, *SEARCH.arguments(
            user_id=user_id, transcript_ids=None, terms=list(terms), term_counts=list(counts),
            limit=get_settings().chat_context_chunks, tsquery=tsquery,
            ranked_cap=query_words.ranked_matches_cap(reading),
        ))  # fmt: skip
        if hits:
            break

    def coverage(hit: asyncpg.Record) -> float:
        return hit[MATCHED_TERMS] / hit[QUERY_TERMS] if hit[QUERY_TERMS] else 0.0

    return [hit for hit in hits if coverage(hit) >= Ranking().min_coverage]


def citation(number: int, hit: asyncpg.Record) -> dict[str, Any]:
    """`Citation.as_dict()` of a hit."""
    metadata = json.loads(hit["metadata"])
    start = None if metadata.get("start_seconds") is None else float(metadata["start_seconds"])
    return {
        "number": number, "transcript_id": str(hit["transcript_id"]), "chunk_id": str(hit["id"]),
        "chunk_index": hit["chunk_index"], "youtube_video_id": hit["youtube_video_id"],
        "title": hit["title"], "start_seconds": start, "end_seconds": metadata.get("end_seconds"),
        "moment_seconds": start,  # the app finds the passage's caption; a chunk has its start
        "url": watch_url(hit["youtube_video_id"], start),
    }  # fmt: skip


def offline_answer(
    question: str, history: Sequence[Record], hits: Sequence[Record]
) -> tuple[str, dict[str, Any]]:
    """What OfflineExtractiveModel answers, and the answer's metadata with the tokens it counts
    (`estimate_usage`: the prompt's system, history and question, then the answer)."""
    language = question_language(question)
    if not hits:
        declined = {"grounded": False, "citations": [], "provider": None, "model": None,
                    "offline": None, "partial": False}  # fmt: skip
        return words_in(language).not_in_videos, declined
    settings = get_settings()
    citations = [citation(number, hit) for number, hit in enumerate(hits, start=1)]
    passages = [Passage(number, hit["chunk_text"]) for number, hit in enumerate(hits, start=1)]
    excerpts = []
    for item, passage in zip(citations, passages, strict=True):
        when = timestamp_label(item["start_seconds"])
        heading = f"[{item['number']}] {item['title'] or item['youtube_video_id']}"
        excerpts.append(heading + (f" at {when}" if when else "") + "\n" + passage.text)
    messages = [
        ChatMessage("system", SYSTEM_PROMPT.format(excerpts="\n\n".join(excerpts))),
        *(ChatMessage(m["role"], m["content"]) for m in history if m["role"] in CHAT_ROLES),
        ChatMessage("user", question),
    ]
    model = OfflineExtractiveModel(settings)
    answer = model.answer(question, passages, language)
    usage = estimate_usage(messages, answer, settings.tokenizer_encoding)
    tokens = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
              "total_tokens": usage.prompt_tokens + usage.completion_tokens}  # fmt: skip
    return answer, {
        "grounded": True, "citations": citations, "provider": model.provider,
        "model": model.model, "offline": True, "partial": False, "usage": tokens,
    }  # fmt: skip


async def chat_turn(
    connection: asyncpg.Connection, conversation: asyncpg.Record, user_id: uuid.UUID, question: str
) -> dict[str, Any]:
    """A chat turn as the app runs it with the offline model, in the same two transactions: the
    question (with the history read, the title and the search), then the answer."""
    settings, conversation_id = get_settings(), conversation["id"]
    history: list[asyncpg.Record] = []
    async with connection.transaction():
        if settings.chat_history_messages:
            newest_first = await connection.fetch(
                db.SELECT_LAST_MESSAGES, conversation_id, settings.chat_history_messages
            )
            history = newest_first[::-1]
        asked = await connection.fetchrow(INSERT_MESSAGE, conversation_id, "user", question, "{}")
        if conversation["title"] is None:
            await connection.execute(SET_TITLE, conversation_id, title_from(question))
        hits = await search(connection, user_id, question)
    answer, metadata = offline_answer(question, history, hits)
    metadata = {"reply_to": str(asked["id"]), **metadata}  # the question it answers, as the app's
    async with connection.transaction():
        answered = await connection.fetchrow(
            INSERT_MESSAGE, conversation_id, "assistant", answer, json.dumps(metadata)
        )
        if "usage" in metadata:
            usage = metadata["usage"]
            await connection.execute(
                INSERT_USAGE, user_id, metadata["provider"], metadata["model"],
                usage["prompt_tokens"], usage["completion_tokens"],
            )  # fmt: skip

    def message(stored: asyncpg.Record, role: str, content: str, meta: dict[str, Any]) -> Any:
        return {"id": str(stored["id"]), "conversation_id": str(conversation_id), "role": role,
                "content": content, "metadata": meta,
                "created_at": stored["created_at"].isoformat()}  # fmt: skip

    return {"user_message": message(asked, "user", question, {}),
            "assistant_message": message(answered, "assistant", answer, metadata)}  # fmt: skip


# --- the routes ------------------------------------------------------------------------------

Handler = Callable[[Request, Connection, Record], Awaitable[Response]]


def error(status_code: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status_code)


def json_value(column: str, value: Any) -> Any:
    if column in ("metadata", "metadata_json"):
        return json.loads(value)  # asyncpg returns jsonb as text
    if isinstance(value, uuid.UUID):
        return str(value)
    return value.isoformat() if isinstance(value, datetime) else value


def jsonable(record: asyncpg.Record) -> dict[str, Any]:
    return {column.removesuffix("_json"): json_value(column, v) for column, v in record.items()}


async def page(
    request: Request, connection: asyncpg.Connection, query: Statement, default_limit: int,
    **params: Any,
) -> Response:  # fmt: skip
    """A page and its total from one of the repositories' page statements: the count comes
    first in each row, and an empty page is one row with NULLs after it."""
    limit = int(request.query_params.get("limit", default_limit))
    offset = int(request.query_params.get("offset", 0))
    records = await connection.fetch(
        query.sql, *query.arguments(limit=limit, offset=offset, **params)
    )
    items = [jsonable(dict(list(r.items())[1:])) for r in records if r["id"] is not None]
    return JSONResponse({"items": items, "total": records[0][0], "limit": limit, "offset": offset})


def authenticated(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The caller's user row, found as the app finds it: one query joining the live session
    with this token hash to its user; one pooled connection per request."""

    async def endpoint(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        async with request.app.state.pool.acquire() as connection:
            user = None
            if scheme.lower() == "bearer" and token:
                user = await connection.fetchrow(SELECT_SESSION_USER, token_digest(token))
            if user is None:
                return error(401, "unauthorized", "Missing or invalid credentials.")
            return await handler(request, connection, user)

    return endpoint


async def list_conversations(request: Request, connection: Connection, user: Record) -> Response:
    return await page(request, connection, CONVERSATION_PAGE, 20, user_id=user["id"])


async def create_conversation(request: Request, connection: Connection, user: Record) -> Response:
    title = (await request.json()).get("title")
    created = await connection.fetchrow(INSERT_CONVERSATION, user["id"], title)
    return JSONResponse(jsonable(created), status_code=201)


async def list_messages(request: Request, connection: Connection, user: Record) -> Response:
    conversation_id = request.path_params["conversation_id"]
    owned = IS_OWNED.arguments(id=conversation_id, user_id=user["id"])  # is_owned_by's
    if not await connection.fetchval(IS_OWNED.sql, *owned):
        return error(404, "not_found", "Conversation not found")
    return await page(request, connection, MESSAGE_PAGE, 50, conversation_id=conversation_id)


async def ask(request: Request, connection: Connection, user: Record) -> Response:
    """A chat turn with the offline model, after the checks the app's route makes."""
    question: str = (await request.json())["content"]
    if len(question) > (limit := get_settings().message_max_chars):
        return error(422, "validation_error", f"The message is longer than {limit} characters.")
    conversation_id = request.path_params["conversation_id"]
    owned = await connection.fetchrow(SELECT_OWNED_CONVERSATION, conversation_id, user["id"])
    if owned is None:
        return error(404, "not_found", "Conversation not found")
    return JSONResponse(await chat_turn(connection, owned, user["id"], question), status_code=201)


async def create_transcript(request: Request, connection: Connection, user: Record) -> Response:
    """What `store_transcript` stores: the transcript with its words counted and its language,
    its chunks with their metadata, and their passages (the limits and the embed job left out,
    as the bare chat turn leaves out the limits)."""
    body = await request.json()
    # In a thread (the app uses a process): tokenising 10,000 words would stall the event loop.
    options = ChunkOptions.of(get_settings())
    prepared = await asyncio.to_thread(prepare_text, body["transcript_text"], options)
    async with connection.transaction():
        transcript = await connection.fetchrow(
            INSERT_TRANSCRIPT, user["id"], body["video"], prepared.full_text, body.get("title"),
            body.get("channel_name"), body.get("duration"), json.dumps(body.get("metadata", {})),
            prepared.word_count, prepared.language,
        )  # fmt: skip
        chunks, passages = [], []
        for piece in prepared.chunks:
            chunk = NewChunk(transcript["id"], user["id"], piece.index, piece.text,
                             piece.token_count, orjson.Fragment(piece.metadata_json))  # fmt: skip
            chunks.append(record := db.chunk_record(chunk))
            passages += [
                db.passage_record(new_passage(passage, record[0], transcript["id"], user["id"]))
                for passage in piece.passages
            ]
        await connection.executemany(db.INSERT_CHUNK, chunks)
        await connection.executemany(db.INSERT_PASSAGE, passages)
    created = {**jsonable(transcript), "chunk_count": len(prepared.chunks)}
    return JSONResponse(created, status_code=201)


async def database_health(request: Request) -> Response:
    await request.app.state.pool.fetchval("SELECT 1")
    return JSONResponse({"status": "ok", "database": "up"})


@asynccontextmanager
async def bare_lifespan(app: Starlette) -> AsyncIterator[None]:
    settings = get_settings()
    # Loaded up front, as the app's lifespan does, so that no measured request pays for it.
    await asyncio.to_thread(get_tokenizer, settings.tokenizer_encoding)
    # Sized like the app's SQLAlchemy pool; both open connections as the load needs them.
    dsn = db.asyncpg_dsn(settings.require_database_url())
    app.state.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=settings.db_pool_size)
    try:
        yield
    finally:
        await app.state.pool.close()


def bare_app() -> Starlette:
    """The uvicorn factory for the bare server."""
    conversations = f"{API}/conversations"
    messages = f"{conversations}/{{conversation_id:uuid}}/messages"
    return Starlette(
        routes=[
            Route("/health/db", database_health),
            Route(conversations, authenticated(list_conversations)),
            Route(conversations, authenticated(create_conversation), methods=["POST"]),
            Route(messages, authenticated(list_messages)),
            Route(messages, authenticated(ask), methods=["POST"]),
            Route(f"{API}/transcripts", authenticated(create_transcript), methods=["POST"]),
        ],
        lifespan=bare_lifespan,
    )
