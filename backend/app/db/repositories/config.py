from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from app.db.models import Config
from app.db.repositories.base import BaseRepository, database_errors_translated


class ConfigRepository(BaseRepository[Config]):
    """Application-wide JSON settings by key."""

    model = Config

    async def get_value(self, key: str) -> Any | None:
        """The value stored under key, or None when the key is not set."""
        entry = await self.get_by_id(key)
        return None if entry is None else entry.value

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
        async with database_errors_translated():
            entry: Config | None = await self.session.scalar(
                statement, execution_options={"populate_existing": True}
            )
        assert entry is not None  # an upsert always returns its row
        return entry
