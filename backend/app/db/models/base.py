"""The declarative base every table's mapping derives from, and the column helpers they share.

Constraint and index names come from NAMING_CONVENTION (DATABASE_SCHEMA.md, "Constraint names").
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, FetchedValue, ForeignKey, Index, MetaData, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.db.types import AwareDateTime, Document

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _quoted_list(values: Iterable[str]) -> str:
    """The values as a list of SQL string literals, for a CHECK constraint: `'a', 'b'`."""
    return ", ".join(f"'{value}'" for value in values)


def one_of(column: str, values: Iterable[str]) -> CheckConstraint:
    """The CHECK constraint `<column>_allowed`: the column holds one of `values`."""
    return CheckConstraint(f"{column} IN ({_quoted_list(values)})", name=f"{column}_allowed")


def status_index(table: str, status: str, column: str) -> Index:
    """`ix_<table>_<status>_<column>`: the rows in one status, by `column`. A loop that polls
    for its next rows (due, stale) reads them there without reading the others."""
    return Index(
        f"ix_{table}_{status}_{column}", column, postgresql_where=text(f"status = '{status}'")
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Read server-generated values (ids, timestamps set by defaults or triggers) back in the same
    # INSERT/UPDATE ... RETURNING: an async session cannot lazy-load them afterwards.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    # The column type each Python type maps to where a column does not name one: timestamps
    # keep their zone, text is unbounded, ids are native UUIDs. A `Mapped[X]` without `| None`
    # is NOT NULL.
    type_annotation_map = {  # noqa: RUF012
        datetime: AwareDateTime(),
        str: Text(),
        uuid.UUID: UUID(as_uuid=True),
    }


def uuid_pk() -> Mapped[uuid.UUID]:
    # The client generates the key so that the ORM can batch many INSERTs into one statement;
    # the server default still covers rows written by plain SQL.
    return mapped_column(
        primary_key=True,
        default=uuid.uuid4,
        server_default=func.gen_random_uuid(),
    )


def created_at() -> Mapped[datetime]:
    return mapped_column(server_default=func.now())


def updated_at() -> Mapped[datetime]:
    # Moved on every UPDATE by the set_updated_at() trigger (migration 0001).
    return mapped_column(server_default=func.now(), server_onupdate=FetchedValue())


def owner_fk(table: str, *, nullable: bool = False, index: bool = True) -> Mapped[Any]:
    # index=False only where a composite index leads with this column and serves it already.
    return mapped_column(
        UUID(as_uuid=True),
        ForeignKey(f"{table}.id", ondelete="CASCADE"),
        nullable=nullable,
        index=index,
    )


def jsonb_metadata() -> Mapped[dict[str, Any]]:
    # `metadata` is reserved on declarative classes, so the attribute is `meta`. None is SQL
    # NULL, which the column refuses, rather than a JSON null no reader of a dict expects.
    return mapped_column(
        "metadata",
        Document(none_as_null=True),
        nullable=False,
        server_default=text("'{}'::jsonb"),
        default=dict,
    )


def children(back_populates: str) -> Mapped[Any]:
    """The rows that belong to this one. PostgreSQL deletes them with it (their foreign keys
    cascade): the session does not load them to delete each (passive_deletes). Never loaded on
    attribute access (lazy="raise"), as no relationship is: an async session cannot do it."""
    return relationship(
        lazy="raise",
        back_populates=back_populates,
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
