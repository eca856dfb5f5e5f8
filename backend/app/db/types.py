"""Column types of our own."""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import DateTime, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

from app.core.stored_values import value_problems


class NonFiniteNumberError(ValueError):
    """A document holding NaN or an infinity, which JSON has no way to write."""

    def __init__(self) -> None:
        super().__init__("NaN and infinities have no JSON form: store null or a string instead")


def dumps(value: Any) -> str:
    """orjson where it can (several times faster than json.dumps on large documents, and it
    embeds an `orjson.Fragment` as it is); json.dumps for what orjson refuses (integers beyond
    64 bits, which PostgreSQL's jsonb accepts). NaN and infinities are refused
    (NonFiniteNumberError), where orjson would write them as null."""
    try:
        document = orjson.dumps(value)
    except orjson.JSONEncodeError:
        try:
            return json.dumps(value, allow_nan=False)
        except ValueError:
            raise NonFiniteNumberError() from None
    # orjson writes a non-finite float as null: only a document with a null is searched.
    if b"null" in document and _holds_non_finite(value):
        raise NonFiniteNumberError()
    return document.decode()


def _holds_non_finite(value: Any) -> bool:
    return any(problem == "non_finite_number" for _, problem in value_problems(value, ()))


class Document(JSONB):
    """JSONB written with `dumps`, whatever the engine's json_serializer."""

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        string_process = self._str_impl.bind_processor(dialect)
        return self._make_bind_processor(string_process, dumps)  # type: ignore[no-untyped-call,no-any-return]


class NaiveDateTimeError(ValueError):
    """A datetime without a time zone, for a column that keeps one."""

    def __init__(self) -> None:
        super().__init__(
            "a datetime without a time zone would be read in the process's local time: give it"
            " one (datetime.now(UTC), or .replace(tzinfo=UTC))"
        )


class AwareDateTime(TypeDecorator[datetime]):
    """`timestamptz` that refuses a naive datetime (NaiveDateTimeError): asyncpg would take it
    as the writing process's local time, so a session's expiry would depend on its TZ."""

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise NaiveDateTimeError()
        return value

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        # As `timestamptz` does: `window_start - timedelta(...)` binds an interval.
        return self.impl_instance.coerce_compared_value(op, value)
