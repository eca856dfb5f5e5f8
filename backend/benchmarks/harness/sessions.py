"""The application's two ways of opening a session, as configurations a measurement runs in:
`app defaults` (the engine with pre-ping, a transaction per session, committed at the end, as
`unit_of_work` does) and `read_only` (the API's read path: AUTOCOMMIT without pre-ping); and
the statements each sends around one read, as asyncpg's query logger sees them."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import User
from app.db.repositories import UserRepository
from app.db.repositories.hot import primary_key_read
from benchmarks.harness import database as db

APP_DEFAULTS, READ_ONLY = "app defaults", "read_only"

Operation = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class SessionKind:
    """One way of opening a session: a configuration the reads are measured in."""

    label: str
    engine: AsyncEngine
    sessions: db.Sessions
    commits: bool  # a transaction per session, committed at the end (unit_of_work's contract)

    def operation(self, work: Callable[[AsyncSession], Awaitable[object]]) -> Operation:
        """`work` in a session of its own, committed when this configuration commits."""

        async def operation() -> None:
            async with self.sessions() as session:
                await work(session)
                if self.commits:
                    await session.commit()

        return operation


@asynccontextmanager
async def session_kinds(database_url: str, pool_size: int) -> AsyncIterator[list[SessionKind]]:
    """The two configurations, app defaults first."""
    settings = db.bench_settings(database_url, pool_size, db_pool_pre_ping=True)
    async with (
        db.app_engine(settings) as engine,
        db.app_engine(settings, autocommit=True) as read_only,
    ):
        yield [
            SessionKind(APP_DEFAULTS, engine, db.session_maker(engine), commits=True),
            SessionKind(READ_ONLY, read_only, db.session_maker(read_only), commits=False),
        ]


async def statements_around_a_read(database_url: str, user_id: uuid.UUID) -> dict[str, list[str]]:
    """Per configuration, the statements asyncpg's query logger sees during one get_by_id on a
    connection already in use (it logs simple queries, not the prepared SELECT itself): the
    round trips a session adds to the query. Engines of their own, with a pool of one."""
    seen: list[str] = []
    user_read = primary_key_read(User)
    own_query = user_read.read.sql if user_read is not None else ""

    def log_queries(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(lambda query: seen.append(query.query))

    statements = {}
    async with session_kinds(database_url, pool_size=1) as kinds:
        for kind in kinds:  # each configuration has an engine, so a pool, of its own
            event.listen(kind.engine.pool, "connect", log_queries)
        for kind in kinds:
            get_user = kind.operation(lambda session: UserRepository(session).get_by_id(user_id))
            await get_user()  # connects, prepares; a fresh connection is not pinged
            seen.clear()
            await get_user()
            await asyncio.sleep(0)  # the logger runs from the event loop, after the query
            # The lookup itself is logged too when it goes straight to asyncpg (a HotRead).
            statements[kind.label] = [query for query in seen if query != own_query]
    return statements
