"""Keeping a session's identity map true after a bulk DELETE.

PostgreSQL removes the deleted rows' dependents itself (ON DELETE CASCADE), but a session still
holds the objects it loaded earlier and would hand them out again (`session.get` answers from
the identity map without asking the database). After a repository deletes rows, the session
forgets them and every loaded object whose foreign keys lead, through cascading keys, to one of
them.
"""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Table, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstanceState

RowKey = tuple[Any, ...]


def forget_deleted(session: AsyncSession, table: Table, keys: Iterable[RowKey]) -> None:
    """Expunge the objects of `table`'s deleted rows (primary keys `keys`) and of the rows the
    database deleted with them."""
    deleted: dict[Table, set[RowKey]] = defaultdict(set)
    deleted[table].update(keys)
    if not deleted[table]:
        return
    loaded = list(session.sync_session.identity_map.values())
    forgotten: set[int] = set()
    while True:
        newly = [obj for obj in loaded if id(obj) not in forgotten and _is_gone(obj, deleted)]
        if not newly:
            break
        for obj in newly:
            state = inspect(obj)
            deleted[state.mapper.local_table].add(tuple(state.identity or ()))
            forgotten.add(id(obj))
    for obj in loaded:
        if id(obj) in forgotten:
            session.expunge(obj)


def _is_gone(obj: object, deleted: dict[Table, set[RowKey]]) -> bool:
    state = inspect(obj)
    table = state.mapper.local_table
    if tuple(state.identity or ()) in deleted.get(table, ()):
        return True
    return any(
        _references_deleted(state, constraint, deleted)
        for constraint in table.foreign_key_constraints
        if constraint.ondelete == "CASCADE"
    )


def _references_deleted(
    state: InstanceState[Any], constraint: ForeignKeyConstraint, deleted: dict[Table, set[RowKey]]
) -> bool:
    parent_keys = deleted.get(constraint.referred_table)
    if not parent_keys:
        return False
    # Only loaded values count: reading an unloaded one would query the database.
    names = (state.mapper.get_property_by_column(column).key for column in constraint.columns)
    values = tuple(state.dict.get(name) for name in names)
    return None not in values and values in parent_keys
