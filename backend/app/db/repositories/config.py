from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from app.db.errors import database_errors_translated
from app.db.models import Config
from app.db.repositories.base import BaseRepository


class ConfigRepository(BaseRepository[Config, str]):
    """Application-wide JSON values by key: the administrators' overrides of runtime settings."""

    model = Config

    async def get_value(self, key: str) -> Any | None:
        """The value stored under key, or None when the key is not set."""
        entry = await self.get_by_id(key)
        return None if entry is None else entry.value

    async def entries(self) -> Sequence[Config]:
        """Every stored entry, in key order."""
        return await self.scalars(select(Config).order_by(Config.key))

    async def stored_values(self) -> dict[str, Any]:
        """Every key with its value, in one statement (the runtime settings' reload)."""
        async with database_errors_translated():
            rows = await self.session.execute(select(Config.key, Config.value))
        return {key: value for key, value in rows}

    async def lock_key(self, key: str) -> None:
        """Hold the key until the transaction ends, whether or not a row exists for it yet, so
        that concurrent changes of one key read and record its value one after the other."""
        await self._lock_until_commit("config:" + key)

    async def set_value(self, key: str, value: Any, description: str | None = None) -> Config:
        """Insert or replace the value under key in one statement (an upsert).

        A description given replaces the stored one; None keeps it.
        """
        new_entry = insert(Config).values(key=key, value=value, description=description)
        statement = new_entry.on_conflict_do_update(
            index_elements=[Config.key],
            set_={
                "value": new_entry.excluded.value,
                "description": func.coalesce(new_entry.excluded.description, Config.description),
            },
        ).returning(Config)
        return await self.upserted(statement)
