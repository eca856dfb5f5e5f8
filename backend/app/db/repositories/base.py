"""The generic repository every model's repository builds on.

A repository wraps one AsyncSession and one model. It flushes so that database errors surface at
the call that caused them, but never commits: the unit of work (`get_db()` or `unit_of_work()`)
decides. Database errors leave as domain errors (app/db/errors.py).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID, uuid4

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    delete,
    exists,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, make_transient_to_detached
from sqlalchemy.orm.attributes import flag_modified, instance_dict
from sqlalchemy.sql.dml import ReturningInsert
from typing_extensions import TypeVar as TypeVarWithDefault

from app.db.cascade import forget_deleted
from app.db.errors import (
    DeletedMeanwhileError,
    NotFoundError,
    database_errors_translated,
    row_noun,
)
from app.db.models import Base
from app.db.repositories.hot import autocommit_driver_connection, primary_key_read
from app.db.repositories.paging import FIRST_PAGE, PageRequest, PlainRow, RowPage

ModelT = TypeVar("ModelT", bound=Base)
# A model's primary key: a UUID for all but the runtime settings, keyed by name. A model keyed
# by several columns (login failures, usage counters, passage vectors) is read and deleted by
# its repository's own methods: the by-key ones refuse it (`_primary_key`).
KeyT = TypeVarWithDefault("KeyT", default=UUID)
# Rows a multi-row insert sends per statement. SQLAlchemy builds each row's parameters on the
# event loop (about 40 µs a row): a 300,000-word transcript's 4,500 passages in one statement
# held the loop for a quarter of a second.
INSERT_BATCH_ROWS = 500


@dataclass(frozen=True, slots=True)
class NewRow:
    """A row for `_insert_new` to insert: a dataclass whose fields are the model's attributes
    (`renamed` names those called otherwise), given an id made in Python."""

    renamed: ClassVar[Mapping[str, str]] = {}

    def as_row(self) -> dict[str, Any]:
        row = {column: getattr(self, name) for column, name in _row_layout(type(self))}
        row["id"] = uuid4()
        return row


_row_layouts: dict[type[NewRow], tuple[tuple[str, str], ...]] = {}


def _row_layout(kind: type[NewRow]) -> tuple[tuple[str, str], ...]:
    """Each (column, attribute) of a kind of new row, read once per kind: a long upload makes
    tens of thousands of rows, and `fields()` on each would cost a third more."""
    if kind not in _row_layouts:
        named = ((kind.renamed.get(each.name, each.name), each.name) for each in fields(kind))
        _row_layouts[kind] = tuple(named)
    return _row_layouts[kind]


class BaseRepository(Generic[ModelT, KeyT]):
    """Typed CRUD for `model`; subclasses name the model and add their own queries."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _entity(self) -> str:
        return row_noun(str(self.model.__tablename__))

    @property
    def _primary_key(self) -> InstrumentedAttribute[Any]:
        """The key column; TypeError for a model keyed by several (`delete(x)` on one column of
        them would delete every row sharing it)."""
        columns = inspect(self.model).primary_key
        if len(columns) != 1:
            raise TypeError(
                f"{self._entity} has a key of {len(columns)} columns: use its own methods"
            )
        attribute: InstrumentedAttribute[Any] = getattr(self.model, columns[0].key)
        return attribute

    async def _lock_until_commit(self, name: str) -> None:
        """Hold an advisory lock named `name` until the transaction ends: whoever takes the
        same name next waits for it, whether or not any row exists yet to lock."""
        await self.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))

    async def get_by_id(self, id_: KeyT) -> ModelT | None:
        """The row with this primary key, or None.

        On the read-only engine (autocommit), a row the session does not hold yet is read as a
        HotRead and put in the session as if `session.get()` had loaded it: the same object,
        persistent and unmodified, for a third of the cost (`python -m benchmarks.repositories`).
        """
        read, _ = primary_key_read(self.model), self._primary_key  # one key column, or none
        if read is None or self._holds(id_):
            return await self._get_tracked(id_)
        async with database_errors_translated():
            connection = await self.session.connection()
        if autocommit_driver_connection(connection) is None:
            return await self._get_tracked(id_)
        async with database_errors_translated():
            rows = await read.read.fetch_on(connection, id=id_)
        return self._loaded(read.attributes, rows[0]) if rows else None

    def _holds(self, id_: KeyT) -> bool:
        key = inspect(self.model).identity_key_from_primary_key([id_])
        return key in self.session.identity_map

    async def _get_tracked(self, id_: KeyT) -> ModelT | None:
        async with database_errors_translated():
            instance: ModelT | None = await self.session.get(self.model, id_)
        return instance

    def _loaded(self, attributes: Sequence[str], row: Sequence[Any]) -> ModelT:
        """An instance made of a row as the ORM makes it when loading (no __init__, values
        written to its dict with no change history), added to the session as persistent."""
        instance: ModelT = inspect(self.model).class_manager.new_instance()
        instance_dict(instance).update(zip(attributes, row, strict=True))
        make_transient_to_detached(instance)
        self.session.add(instance)
        return instance

    async def get_afresh(self, id_: KeyT) -> ModelT | None:
        """The row as the database holds it now (the session's copy, if any, refreshed), or
        None when it is gone: after a wait during which another transaction may have changed
        or deleted it."""
        async with database_errors_translated():
            row: ModelT | None = await self.session.get(self.model, id_, populate_existing=True)
        if row is None:  # the session's copy, if any, is of a row that is no more
            key = inspect(self.model).identity_key_from_primary_key([id_])
            if (held := self.session.identity_map.get(key)) is not None:
                self.session.expunge(held)
        return row

    async def lock(self, id_: KeyT, *, shared: bool = False) -> ModelT:
        """The row read afresh and locked until the transaction ends (NotFoundError when there
        is none): whoever changes it meanwhile waits, and who waited sees the change. `shared`
        locks it against changes only: readers that share it do not wait for each other."""
        async with database_errors_translated():
            row: ModelT | None = await self.session.get(
                self.model, id_, populate_existing=True, with_for_update={"read": shared}
            )
        if row is None:
            raise NotFoundError(self._entity, id_)
        return row

    async def get_existing(self, id_: KeyT) -> ModelT:
        """The row with this primary key; NotFoundError when there is none."""
        instance = await self.get_by_id(id_)
        if instance is None:
            raise NotFoundError(self._entity, id_)
        return instance

    async def _insert(self, **values: Any) -> ModelT:
        """Insert one row and return it with its server-generated columns filled in. Each
        repository's `create()` names the columns a new row of its model takes, typed."""
        instance: ModelT = self.model(**values)
        self.session.add(instance)
        await self.flush()
        return instance

    async def _insert_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows of the model, INSERT_BATCH_ROWS to a statement (each an executemany,
        pipelined by asyncpg), with no RETURNING."""
        async with database_errors_translated():
            for start in range(0, len(rows), INSERT_BATCH_ROWS):
                batch = rows[start : start + INSERT_BATCH_ROWS]
                await self.session.execute(insert(self.model), batch)

    async def _insert_new(self, new: Sequence[NewRow]) -> list[UUID]:
        """Insert the rows (`_insert_rows`); their ids, in input order. The ids are made in
        Python, so nothing needs to come back. Each statement's rows are made just before it is
        sent, so that the event loop gets a turn between statements however many rows come."""
        ids: list[UUID] = []
        for start in range(0, len(new), INSERT_BATCH_ROWS):
            rows = [each.as_row() for each in new[start : start + INSERT_BATCH_ROWS]]
            await self._insert_rows(rows)
            ids += (row["id"] for row in rows)
        return ids

    async def update(self, id_: KeyT, **values: Any) -> ModelT:
        """Set the given columns on an existing row; NotFoundError when there is none. A column
        is named by its attribute or by its column's own name (`metadata` for `Message.meta`,
        as `create` takes it)."""
        mapper = inspect(self.model)
        attributes = {column.name: key for key, column in mapper.columns.items()}
        attributes |= {key: key for key in mapper.column_attrs}
        unknown = set(values) - set(attributes)
        if unknown:
            raise TypeError(f"{self._entity} has no column(s) {sorted(unknown)}")
        instance = await self.get_existing(id_)
        for name, value in values.items():
            setattr(instance, attributes[name], value)
            # Written even when it is the object the row holds, changed in place (a metadata
            # dict read, given a key, and passed back): set to itself, it would count as
            # unchanged and the commit would store nothing.
            flag_modified(instance, attributes[name])
        try:
            await self.flush()
        except DeletedMeanwhileError:  # since it was read: named by the key it was asked by
            raise DeletedMeanwhileError(self._entity, id_) from None
        return instance

    async def _set(self, id_: KeyT, **values: Any) -> None:
        """Set columns of the row with this key in one UPDATE, without reading it first (no row:
        nothing happens). The session's copy, if it holds one, is left as it was."""
        await self.execute(
            update(self.model)
            .where(self._primary_key == id_)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def delete(self, id_: KeyT) -> bool:
        """Delete the row with this primary key (its dependents cascade); False if none."""
        return await self.delete_where(self._primary_key == id_) > 0

    async def delete_where(self, *where: ColumnElement[bool]) -> int:
        """Delete the rows matching `where` (their dependents cascade); returns how many. The
        session forgets them and their dependents, so it never hands out a deleted row."""
        primary_key = inspect(self.model).primary_key
        result = await self.execute(delete(self.model).where(*where).returning(*primary_key))
        keys = [tuple(row) for row in result]
        forget_deleted(self.session, self.model.__table__, keys)
        return len(keys)

    async def _page(
        self,
        *where: ColumnElement[bool],
        order_by: Sequence[Any],
        page: PageRequest,
    ) -> RowPage[ModelT]:
        """One page of the rows matching `where`, in `order_by` order (the primary key last, so
        that pages never overlap), and how many rows match. The count is left out when the page
        tells it: a page shorter than asked for is the last one, unless it is empty past the
        first (the rows may have gone, or never reached that far)."""
        statement = (
            select(self.model)
            .where(*where)
            .order_by(*order_by, self._primary_key)
            .limit(page.limit)
            .offset(page.offset)
        )
        rows = list(await self.scalars(statement))
        if len(rows) < page.limit and (rows or page.offset == 0):
            return RowPage.read(rows, page.offset + len(rows), page)
        total = await self.count(*where)
        # Counted in a statement of its own: rows deleted in between must not make the total
        # fewer than the rows this page shows.
        if rows:
            total = max(total, page.offset + len(rows))
        return RowPage.read(rows, total, page)

    async def _newest_first(
        self, *where: ColumnElement[bool], page: PageRequest
    ) -> RowPage[ModelT]:
        """`_page()` in order of creation, newest first."""
        created_at = self.model.__table__.c.created_at
        return await self._page(*where, order_by=[created_at.desc()], page=page)

    async def _plain_page(
        self, statement: Select[Any], page: PageRequest, **params: Any
    ) -> RowPage[PlainRow]:
        """Run a `page_statement()` with the filter's parameters: its rows as plain rows."""
        params |= {"limit": page.limit, "offset": page.offset}
        async with database_errors_translated():
            result = (await self.session.execute(statement, params)).all()
        names = list(result[0]._fields[1:])
        # The primary key is never NULL in a row of the page: its absence means no page row.
        key_at = 1 + names.index(self._primary_key.key)
        rows = [dict(zip(names, row[1:], strict=True)) for row in result if row[key_at] is not None]
        return RowPage.read(rows, int(result[0][0]), page)

    async def count(self, *where: ColumnElement[bool]) -> int:
        """How many rows match `where`."""
        statement = select(func.count()).select_from(self.model).where(*where)
        async with database_errors_translated():
            return int(await self.session.scalar(statement) or 0)

    async def flush(self) -> None:
        """Send the session's pending changes; an UPDATE of a row another transaction deleted
        meanwhile is a NotFoundError (`DeletedMeanwhileError`), as it would have been a moment
        earlier."""
        async with database_errors_translated():
            await self.session.flush()

    async def execute(self, statement: Any) -> Any:
        async with database_errors_translated():
            return await self.session.execute(statement)

    async def scalars(self, statement: Select[ModelT]) -> Sequence[ModelT]:
        async with database_errors_translated():
            return (await self.session.scalars(statement)).all()

    async def first(self, statement: Select[ModelT]) -> ModelT | None:
        """The statement's first row, or None when it finds none."""
        async with database_errors_translated():
            return (await self.session.scalars(statement)).first()

    async def upserted(self, statement: ReturningInsert[ModelT]) -> ModelT:
        """The row an INSERT ... ON CONFLICT DO UPDATE ... RETURNING wrote, replacing the
        session's copy of it (an upsert always returns its row)."""
        async with database_errors_translated():
            row = await self.session.scalar(
                statement, execution_options={"populate_existing": True}
            )
        assert row is not None
        return row


_OWNED_STATEMENTS: dict[type[Any], Select[tuple[bool]]] = {}


class UserOwnedRepository(BaseRepository[ModelT]):
    """A repository of rows that belong to a user (`model.user_id`): looked up for that user
    only, a missing row and another user's alike."""

    # True for rows other processes change behind the session's back (jobs, webhook endpoints):
    # get_for_user() then reads them from the database even when the session holds them.
    read_afresh: ClassVar[bool] = False

    async def get_for_user(self, id_: UUID, user_id: UUID) -> ModelT | None:
        """The row if it exists and belongs to this user, else None."""
        if self.read_afresh:
            row = await self.get_afresh(id_)
        else:
            row = await self.get_by_id(id_)
        return row if getattr(row, "user_id", None) == user_id else None

    @classmethod
    def owned_statement(cls) -> Select[tuple[bool]]:
        """is_owned_by()'s one statement, with the bind parameters `id` and `user_id`: built
        once per model (a hot read's ownership check runs it on every request)."""
        model = cls.model
        if model not in _OWNED_STATEMENTS:
            _OWNED_STATEMENTS[model] = select(
                exists().where(model.id == bindparam("id"), model.user_id == bindparam("user_id"))
            )
        return _OWNED_STATEMENTS[model]

    async def is_owned_by(self, id_: UUID, user_id: UUID) -> bool:
        """Whether the row exists and is this user's, without loading it."""
        params = {"id": id_, "user_id": user_id}
        async with database_errors_translated():
            return bool(await self.session.scalar(self.owned_statement(), params))

    async def owned_ids(self, user_id: UUID, ids: Sequence[UUID]) -> set[UUID]:
        """Those of `ids` that are this user's, in one query reading ids only."""
        statement = select(self.model.id).where(
            self.model.user_id == user_id, self.model.id.in_(ids)
        )
        return set((await self.execute(statement)).scalars())


class UserListedRepository(UserOwnedRepository[ModelT]):
    """A repository of a user's rows that the user lists newest first, a page at a time."""

    async def page_for_user(self, user_id: UUID, page: PageRequest = FIRST_PAGE) -> RowPage[ModelT]:
        """A page of the user's rows, newest first."""
        return await self._newest_first(self.model.user_id == user_id, page=page)
