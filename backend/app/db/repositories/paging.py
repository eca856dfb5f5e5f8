"""Pages of rows: the bounds a page may be read with, the page a list answers, and the one
statement that reads a page of plain rows with the number of rows matching in all."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, func, select, true
from sqlalchemy.orm import InstrumentedAttribute

from app.db.models import Base

RowT = TypeVar("RowT")
ShownT = TypeVar("ShownT")
# A row read as plain values, column name → value: what a hot read's page holds.
PlainRow: TypeAlias = dict[str, Any]

MAX_PAGE_SIZE = 1000
MAX_OFFSET = 2**63 - 1  # PostgreSQL's OFFSET is a bigint
TOTAL = "total_matching_rows"


def check_page(limit: int, offset: int) -> None:
    """Refuse page bounds PostgreSQL would reject or that would read a whole table."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise ValueError(f"offset must be between 0 and {MAX_OFFSET}, got {offset}")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page of a list to read: at most `limit` rows, after skipping `offset`. Bounds
    PostgreSQL would reject, or that would read a whole table, are refused when it is made."""

    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        check_page(self.limit, self.offset)


FIRST_PAGE = PageRequest()


@dataclass(frozen=True, slots=True)
class RowPage(Generic[RowT]):
    """One page of rows, how many rows match in all, and the bounds it was read with: what a
    list answers (the API's `Page` is its shape)."""

    rows: list[RowT]
    total: int
    limit: int
    offset: int

    @classmethod
    def read(cls, rows: list[RowT], total: int, page: PageRequest) -> "RowPage[RowT]":
        return cls(rows, total, page.limit, page.offset)

    def with_rows(self, rows: list[ShownT]) -> "RowPage[ShownT]":
        """The same page with its rows replaced, e.g. by what a caller makes of each."""
        return RowPage(rows, self.total, self.limit, self.offset)


def page_statement(
    model: type[Base],
    columns: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    where: ColumnElement[bool],
    order_by: Sequence[Any],
) -> Select[Any]:
    """A page of plain rows and the number of rows matching `where`, in one round trip, for
    reads that go straight to a response (ORM objects and the identity map would buy nothing).
    `where` names its values with `bindparam()`; `limit` and `offset` are parameters too, so
    the statement is built once and run with `BaseRepository._plain_page()`.

    The count is the outer query and the page a lateral join on it, so an empty page still
    brings its total back (one row of NULLs). `columns` must include the primary key, and
    `order_by` should end with it, so that pages never overlap."""
    counted = select(func.count().label(TOTAL)).select_from(model).where(where).subquery()
    page = (
        select(*columns)
        .where(where)
        .order_by(*order_by)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .lateral("page")
    )
    return select(counted.c[TOTAL], page).select_from(counted.outerjoin(page, true()))
