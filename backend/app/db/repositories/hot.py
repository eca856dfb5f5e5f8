"""Reads that run on every request, sent straight to asyncpg on the read-only engine.

On a connection in autocommit (the read-only engine behind `read_only()` / `get_read_db()`), a
`HotRead` runs its statement through the asyncpg connection the session holds: asyncpg's own
prepared-statement cache, no SQLAlchemy execution context, no result object. On any other
connection (a unit of work's transaction, or the read engine behind PgBouncer, which has no
autocommit) it runs through SQLAlchemy as usual, so it joins the transaction. Either way the
caller gets the rows as sequences of column values, in the statement's column order.

The statement is compiled once, when the module defining it is imported. Values and rows pass
between asyncpg and the caller as they are, so a statement whose values or columns SQLAlchemy
would convert (a type with a bind or result processor) is refused there; JSON and JSONB are
decoded by the engine's connections themselves, the same on both paths. Statements sent this way
do not appear in SQLAlchemy's echo log.

An error on the asyncpg path is raised the way SQLAlchemy raises it by running the statement once
more through SQLAlchemy on the same connection: a lost connection then fails there too, and
SQLAlchemy retires it and every pooled connection opened before it (see `read_only()`), and a
server error becomes the usual DBAPIError the repositories translate. Errors are rare on these
reads, so the second run costs nothing in the common case. Callers translate SQLAlchemy's errors
into the data layer's with `database_errors_translated()`, as for any other statement.

`primary_key_read(model)` is the HotRead the repositories' `get_by_id()` uses: a model's row by
its key, loading what `session.get()` loads.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Select, bindparam, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import configure_mappers

from app.db.models import Base

# asyncpg's dialect, made from a URL as the engine makes it (PGDialect_asyncpg's own constructor
# is untyped).
_DIALECT = make_url("postgresql+asyncpg://").get_dialect()()


@dataclass(frozen=True, slots=True)
class HotRead:
    """A SELECT compiled once to asyncpg's SQL, with the order of its `$n` parameters."""

    statement: Select[Any]
    sql: str
    parameters: tuple[str, ...]

    @classmethod
    def of(cls, statement: Select[Any]) -> "HotRead":
        """`statement` names every value with `bindparam()`. ValueError otherwise, or when
        SQLAlchemy would convert a value or a column (its type has a bind or result processor):
        asyncpg alone would then send or return something else."""
        compiled = statement.compile(dialect=_DIALECT)
        parameters = tuple(compiled.positiontup or ())
        if not all(bind.required for bind in compiled.binds.values()):
            raise ValueError("a HotRead names every value with bindparam(), without a value")
        converted = [
            name
            for name, bind in compiled.binds.items()
            if bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT) is not None
        ]
        converted += [
            str(column)
            for column in statement.selected_columns
            if column.type.dialect_impl(_DIALECT).result_processor(_DIALECT, None) is not None
        ]
        if converted:
            raise ValueError(f"SQLAlchemy converts {converted}: not a HotRead")
        return cls(statement, compiled.string, parameters)

    async def fetch(self, session: AsyncSession, **values: Any) -> Sequence[Sequence[Any]]:
        """The rows, each a sequence of column values. Errors leave as SQLAlchemy's: run it
        inside `database_errors_translated()`."""
        return await self.fetch_on(await session.connection(), **values)

    async def fetch_on(self, connection: AsyncConnection, **values: Any) -> Sequence[Sequence[Any]]:
        """`fetch()` on the connection a session already holds."""
        driver = autocommit_driver_connection(connection)
        if driver is not None:
            try:
                rows: Sequence[Sequence[Any]] = await driver.fetch(
                    self.sql, *(values[name] for name in self.parameters)
                )
                return rows
            except Exception:  # noqa: S110 (raised again below, the way SQLAlchemy raises it)
                pass
        result = await connection.execute(self.statement, values)
        fallback: Sequence[Sequence[Any]] = result.all()
        return fallback


def autocommit_driver_connection(connection: AsyncConnection) -> Any | None:
    """The asyncpg connection under `connection` when it is in autocommit and usable as it
    is; None otherwise (in a transaction, or invalidated and waiting to reconnect)."""
    sync_connection = connection.sync_connection
    if sync_connection is None or sync_connection.invalidated:
        return None
    pooled = sync_connection.connection
    if not getattr(pooled.dbapi_connection, "autocommit", False):
        return None
    return pooled.driver_connection


_PRIMARY_KEY_READS: dict[type[Base], "PrimaryKeyRead | None"] = {}


@dataclass(frozen=True, slots=True)
class PrimaryKeyRead:
    """A model's row by primary key as a HotRead, with the attribute each column loads."""

    read: HotRead
    attributes: tuple[str, ...]


def primary_key_read(model: type[Base]) -> PrimaryKeyRead | None:
    """The HotRead of `model` by its primary key, loading what `session.get()` loads (every
    column but the deferred ones); None for a model it cannot load the same way (a composite
    key, inheritance, an attribute mapped to an expression or to several columns, a type
    SQLAlchemy converts). Built once per model."""
    if model not in _PRIMARY_KEY_READS:
        _PRIMARY_KEY_READS[model] = _build_primary_key_read(model)
    return _PRIMARY_KEY_READS[model]


def _build_primary_key_read(model: type[Base]) -> PrimaryKeyRead | None:
    configure_mappers()  # instances are made without the ORM's loading, which would do it
    mapper = inspect(model)
    if len(mapper.primary_key) != 1 or mapper.inherits is not None:
        return None
    loaded = [prop for prop in mapper.column_attrs if not prop.deferred]
    if any(len(prop.columns) != 1 or not isinstance(prop.columns[0], Column) for prop in loaded):
        return None
    statement = select(*(prop.columns[0] for prop in loaded)).where(
        mapper.primary_key[0] == bindparam("id")
    )
    try:
        read = HotRead.of(statement)
    except ValueError:  # a column SQLAlchemy converts: session.get() does it
        return None
    return PrimaryKeyRead(read, tuple(prop.key for prop in loaded))
