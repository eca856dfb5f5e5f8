from typing import Any
from uuid import UUID

from sqlalchemy import bindparam

from app.db.models import ConfigChange
from app.db.repositories.base import BaseRepository
from app.db.repositories.paging import FIRST_PAGE, PageRequest, PlainRow, RowPage, page_statement

_HISTORY_PAGE = page_statement(
    ConfigChange,
    [
        ConfigChange.id,
        ConfigChange.key,
        ConfigChange.old_value,
        ConfigChange.new_value,
        ConfigChange.changed_by,
        ConfigChange.changed_at,
    ],
    ConfigChange.key == bindparam("key"),
    [ConfigChange.changed_at.desc(), ConfigChange.id],
)


class ConfigChangeRepository(BaseRepository[ConfigChange]):
    """The history of the runtime settings' overrides, newest first."""

    model = ConfigChange

    async def record(
        self, key: str, old_value: Any | None, new_value: Any | None, changed_by: UUID | None
    ) -> ConfigChange:
        """One change, in the caller's transaction (None: no override)."""
        return await self._insert(
            key=key, old_value=old_value, new_value=new_value, changed_by=changed_by
        )

    async def history(self, key: str, page: PageRequest = FIRST_PAGE) -> RowPage[PlainRow]:
        """A page of the key's changes, newest first, and how many there are."""
        return await self._plain_page(_HISTORY_PAGE, page, key=key)
