"""The bare server's routes: the same five endpoints as the app, with the same bearer-token
check, one pooled connection per request (as the app holds one session per request)."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.core.config import get_settings
from app.core.security import token_digest
from app.db.repositories import NewChunk
from app.services.chunking import get_tokenizer
from app.services.transcripts import ChunkOptions, new_passage, prepare_text
from benchmarks.harness.api import API
from benchmarks.harness.bare.chat import chat_turn
from benchmarks.harness.bare.sql import (
    CONVERSATION_PAGE,
    INSERT_CONVERSATION,
    INSERT_TRANSCRIPT,
    IS_OWNED,
    MESSAGE_PAGE,
    SELECT_OWNED_CONVERSATION,
    SELECT_SESSION_USER,
    Statement,
)
from benchmarks.harness.database import (
    INSERT_CHUNK,
    INSERT_PASSAGE,
    asyncpg_dsn,
    chunk_record,
    passage_record,
)

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
    connection: asyncpg.Connection, query: Statement, **params: Any
) -> tuple[list[asyncpg.Record], int]:
    """A page and its total from one of the repositories' page statements: the count comes
    first in each row, and an empty page is one row with NULLs after it."""
    records = await connection.fetch(query.sql, *query.arguments(**params))
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
    conversation_id = request.path_params["conversation_id"]
    arguments = IS_OWNED.arguments(id=conversation_id, user_id=user["id"])
    return bool(await connection.fetchval(IS_OWNED.sql, *arguments))


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


async def ask(request: Request, connection: asyncpg.Connection, user: asyncpg.Record) -> Response:
    """A chat turn with the offline model, after the checks the app's route makes."""
    question: str = (await request.json())["content"]
    limit = get_settings().message_max_chars
    if len(question) > limit:
        return error(422, "validation_error", f"The message is longer than {limit} characters.")
    conversation = await owned_conversation(request, connection, user)
    if conversation is None:
        return error(404, "not_found", "Conversation not found")
    exchange = await chat_turn(connection, conversation, user["id"], question)
    return JSONResponse(exchange, status_code=201)


async def create_transcript(
    request: Request, connection: asyncpg.Connection, user: asyncpg.Record
) -> Response:
    """What `store_transcript` stores: the transcript with its words counted and its language,
    its chunks with their metadata, and their passages (the limits and the embed job left out,
    as the bare chat turn leaves out the limits)."""
    body = await request.json()
    # In a thread (the app uses a process): tokenising 10,000 words would stall the event loop.
    prepared = await asyncio.to_thread(
        prepare_text, body["transcript_text"], ChunkOptions.of(get_settings())
    )
    async with connection.transaction():
        transcript = await connection.fetchrow(
            INSERT_TRANSCRIPT,
            user["id"],
            body["video"],
            prepared.full_text,
            body.get("title"),
            body.get("channel_name"),
            body.get("duration"),
            json.dumps(body.get("metadata", {})),
            prepared.word_count,
            prepared.language,
        )
        chunks, passages = [], []
        for piece in prepared.chunks:
            metadata = orjson.Fragment(piece.metadata_json)
            chunk = NewChunk(transcript["id"], user["id"], piece.index, piece.text,
                             piece.token_count, metadata)  # fmt: skip
            chunks.append(record := chunk_record(chunk))
            passages += [
                passage_record(new_passage(passage, record[0], transcript["id"], user["id"]))
                for passage in piece.passages
            ]
        await connection.executemany(INSERT_CHUNK, chunks)
        await connection.executemany(INSERT_PASSAGE, passages)
    return JSONResponse(
        {**jsonable(transcript), "chunk_count": len(prepared.chunks)}, status_code=201
    )


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
