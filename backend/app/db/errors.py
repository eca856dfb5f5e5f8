"""Domain errors raised by the repositories.

Database failures are translated once, here, so that callers (routes, scripts) never inspect
driver exceptions: a duplicate is a ConflictError, a missing referenced row is a NotFoundError,
a value the schema refuses is an InvalidValueError, a deadlock a ConcurrentUpdateError, and a
statement sent after a failed one in the same transaction a TransactionAbortedError. Each names
the table, the constraint and the clashing key as PostgreSQL reported them (never a whole row's
values, which a check's refusal would otherwise carry); their `str()` keeps PostgreSQL's wording
for the logs, while what a caller may see is built from the parsed fields alone.
`is_database_unavailable` tells an outage (the server refused, went away or the pool is
exhausted) from a bug.
"""

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from sqlalchemy.exc import DBAPIError, PendingRollbackError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError

from app.db.types import NaiveDateTimeError, NonFiniteNumberError

# Connection exceptions (class 08); shutting down, crashed or starting up; too many connections.
UNAVAILABLE_SQLSTATE_CLASS = "08"
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
INVALID_DATA_CLASSES = ("22", "23")  # data exceptions and the other integrity violations
IN_FAILED_TRANSACTION = "25P02"  # a statement sent after one that failed, in its transaction
# Two transactions in each other's way: a deadlock, or a serializable transaction's conflict.
CONCURRENCY_SQLSTATES = frozenset({"40P01", "40001"})
# A check or NOT NULL violation's detail: the whole row, every value of it (a password's hash
# among them) that a message or a log line must not carry.
_WHOLE_ROW_DETAIL = "Failing row contains"

_KEY_DETAIL = re.compile(r"Key \((?P<fields>.+?)\)=\((?P<values>.*)\)")
_REFERENCED_TABLE = re.compile(r'is not present in table "(?P<table>[^"]+)"')


def row_noun(table: str) -> str:
    """What a row of `table` is called in a message: `webhook_endpoints` → "Webhook endpoint",
    `api_keys` → "API key"."""
    words = table.split("_")
    last = words[-1]
    words[-1] = last[:-3] + "y" if last.endswith("ies") else last.removesuffix("s")
    noun = " ".join("API" if word == "api" else word for word in words)
    return noun[:1].upper() + noun[1:]


class RepositoryError(Exception):
    """Base class of every error the data layer raises on purpose."""


class NotFoundError(RepositoryError):
    """A row the operation needs does not exist."""

    def __init__(self, entity: str, key: Any, detail: str | None = None) -> None:
        self.entity = entity
        self.key = key
        super().__init__(detail or self.public_message())

    def public_message(self) -> str:
        """What is missing, in words fit for a caller (no database wording)."""
        key = self.key
        if isinstance(key, dict):
            key = ", ".join(f"{name}={value}" for name, value in key.items())
        if key:
            return f"{self.entity} {key} was not found"
        entity = (
            self.entity if self.entity[:2].isupper() else self.entity[:1].lower() + self.entity[1:]
        )
        return f"The {entity} was not found"


class ConstraintError(RepositoryError):
    """A write the database refused, with what PostgreSQL said about it: the table, the
    constraint, the column (a NOT NULL violation's) and the key's fields, when it said them."""

    def __init__(
        self,
        message: str,
        *,
        table: str | None,
        constraint: str | None,
        detail: str | None,
        column: str | None = None,
    ) -> None:
        self.table = table
        self.constraint = constraint
        self.detail = detail
        self.column = column
        self.fields = key_fields(detail)
        super().__init__(message)


class ConflictError(ConstraintError):
    """A unique constraint would be broken: the value already exists."""


class InvalidValueError(ConstraintError):
    """A value the schema does not accept (check constraint, NOT NULL, too long, bad format)."""


class ConcurrentUpdateError(RepositoryError):
    """Another transaction changed the same rows at the same time, and PostgreSQL ended this
    one to let it through (a deadlock, or a serialization failure): nothing of this unit of
    work is stored, and running it again is expected to succeed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"Another transaction changed the same rows at the same time ({reason}); nothing "
            "of this unit of work was stored: run it again."
        )


class TransactionAbortedError(RepositoryError):
    """A unit of work asked to commit after one of its statements failed and the caller caught
    the error: PostgreSQL has aborted the transaction and would answer COMMIT by rolling it all
    back, so nothing of it is stored, and this says so instead of letting the block end as if
    it had been."""

    def __init__(self, failure: str) -> None:
        self.failure = failure
        super().__init__(
            f"A statement failed earlier in this unit of work ({failure}) and PostgreSQL aborted "
            "its transaction: nothing in it was committed. Let a data-layer error end the unit "
            "of work, or run the statement that may fail inside `session.begin_nested()`."
        )


def key_fields(detail: str | None) -> dict[str, str]:
    """Parse PostgreSQL's `Key (a, b)=(1, 2) ...` detail into {"a": "1", "b": "2"}."""
    match = _KEY_DETAIL.search(detail or "")
    if match is None:
        return {}
    fields = [name.strip() for name in match["fields"].split(",")]
    values = [value.strip() for value in match["values"].split(",", len(fields) - 1)]
    return dict(zip(fields, values, strict=False))


def translate_database_error(error: DBAPIError) -> RepositoryError | None:
    """The domain error for a driver error, or None when it is not one the data layer owns."""
    cause = error.orig.__cause__ if error.orig is not None else None
    sqlstate: str = getattr(cause, "sqlstate", None) or getattr(error.orig, "pgcode", None) or ""
    table = getattr(cause, "table_name", None)
    constraint = getattr(cause, "constraint_name", None)
    column = getattr(cause, "column_name", None)
    detail = getattr(cause, "detail", None)
    if detail and detail.startswith(_WHOLE_ROW_DETAIL):
        detail = None
    message = str(getattr(cause, "message", None) or cause or error)
    if sqlstate == UNIQUE_VIOLATION:
        # The key's columns, not its values: a token's hash or an email is a parameter the
        # text (logged, shown) must not hold. `fields` keeps them for the code that needs them.
        said = _KEY_VALUES.sub(r"\1", detail) if detail else None
        message = f"{message}: {said}" if said else message
        return ConflictError(message, table=table, constraint=constraint, detail=detail)
    if detail:
        message = f"{message}: {detail}"
    if sqlstate == FOREIGN_KEY_VIOLATION:
        return _missing_referenced_row(detail, message)
    if sqlstate[:2] in INVALID_DATA_CLASSES:
        return InvalidValueError(
            message, table=table, constraint=constraint, detail=detail, column=column
        )
    if sqlstate in CONCURRENCY_SQLSTATES:
        return ConcurrentUpdateError(message)
    if sqlstate == IN_FAILED_TRANSACTION:
        return TransactionAbortedError("an earlier statement")
    return None


def _missing_referenced_row(detail: str | None, message: str) -> NotFoundError:
    """A row named by a foreign key that is not there (deleted meanwhile, say): named as the
    row it is, `Conversation <id>`, when PostgreSQL's detail says which."""
    referenced = _REFERENCED_TABLE.search(detail or "")
    fields = key_fields(detail)
    if referenced and len(fields) == 1:
        key = next(iter(fields.values()))
        return NotFoundError(row_noun(referenced["table"]), _as_uuid(key), message)
    return NotFoundError("referenced row", fields or None, message)


# "Key (token_hash)=(…) already exists." → "Key (token_hash) already exists."
_KEY_VALUES = re.compile(r"^(Key \([^)]*\))=\(.*\)(?= already exists)", re.DOTALL)


def _as_uuid(key: str) -> UUID | str:
    """A key as get_existing() names it: a UUID where it is one."""
    try:
        return UUID(key)
    except ValueError:
        return key


def is_database_unavailable(error: BaseException) -> bool:
    """True when the error means the database cannot be used right now: connection refused or
    timed out, the connection lost mid-request, the server shutting down or starting, no free
    connection in the pool. Such errors deserve a 503 and a retry, not a 500."""
    for link in _causes(error):
        if isinstance(link, PoolTimeoutError):
            return True
        if isinstance(link, DBAPIError) and link.connection_invalidated:
            return True
        sqlstate = str(getattr(link, "sqlstate", None) or "")
        if sqlstate[:2] == UNAVAILABLE_SQLSTATE_CLASS or sqlstate in UNAVAILABLE_SQLSTATES:
            return True
        # Connecting raises plain OSErrors (refused, no socket file, timed out), unwrapped.
        if isinstance(link, OSError) and _raised_by_the_driver(link):
            return True
    return False


# Invalid authorization (a wrong password or user), and a database that does not exist.
REFUSED_SQLSTATE_CLASSES = ("28", "3D")


def refused_by_the_database(error: BaseException) -> bool:
    """True when the server answered, and would not let this connection in; or when the URL
    names no server the driver can try (a port out of range)."""
    return any(
        str(getattr(link, "sqlstate", None) or "")[:2] in REFUSED_SQLSTATE_CLASSES
        or (isinstance(link, OverflowError) and _raised_by_the_driver(link))
        for link in _causes(error)
    )


def outage_reason(error: BaseException) -> str:
    """The root cause of an outage in a few words, e.g. `ConnectionRefusedError: [Errno 111]
    Connect call failed ('127.0.0.1', 5432)`; the driver's words hold no password."""
    root = list(_causes(error))[-1]
    return f"{type(root).__name__}: {root}" if str(root) else type(root).__name__


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _raised_by_the_driver(error: BaseException) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        module = str(traceback.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(("asyncpg", "sqlalchemy")):
            return True
        traceback = traceback.tb_next
    return False


@asynccontextmanager
async def database_errors_translated() -> AsyncIterator[None]:
    """Turn the driver errors raised inside the block into the data layer's domain errors."""
    try:
        yield
    except DBAPIError as error:
        domain_error = translate_database_error(error)
        if domain_error is None:
            raise
        raise domain_error from error
    except StatementError as error:
        # A value refused before it was sent (app/db/types.py): a document JSON cannot hold
        # (only `metadata` columns are documents), or a datetime without its zone.
        if isinstance(error.orig, NonFiniteNumberError):
            column: str | None = "metadata"
        elif isinstance(error.orig, NaiveDateTimeError):
            column = None
        else:
            raise
        raise InvalidValueError(
            str(error.orig), table=None, constraint=None, detail=None, column=column
        ) from None
    except PendingRollbackError as error:
        # SQLAlchemy's "rolled back due to a previous exception during flush" (code 7s2a): the
        # caller caught a failed create() and went on. Not its "can't reconnect" (8s2b), which
        # is a lost connection and must stay one.
        if error.code != "7s2a":
            raise
        raise TransactionAbortedError("a flush") from None
    except StaleDataError as error:
        # A flush (explicit, or the autoflush before any statement) updated a row that another
        # transaction deleted after this one read it: as a moment earlier, it is not found.
        table = _STALE_TABLE.search(str(error))
        raise DeletedMeanwhileError(row_noun(table[1]) if table else "row", None) from None


class DeletedMeanwhileError(NotFoundError):
    """An UPDATE found its row gone: another transaction deleted it after this one read it."""


_STALE_TABLE = re.compile(r"on table '(\w+)'")  # in SQLAlchemy's StaleDataError
