"""Administrators' overrides of one user's limits (user_limits)."""

from uuid import UUID

from sqlalchemy.dialects.postgresql import insert

from app.db.models import UserLimit
from app.db.repositories.base import BaseRepository, database_errors_translated


class UserLimitRepository(BaseRepository[UserLimit]):
    """One optional row per user; NULL in a column keeps the server's default for that limit."""

    model = UserLimit

    async def replace(
        self,
        user_id: UUID,
        *,
        asks_per_minute: int | None,
        drafts_per_minute: int | None,
        ingests_per_hour: int | None,
        tokens_per_day: int | None,
    ) -> UserLimit:
        """Set the user's override, every column at once (an upsert); NotFoundError when the
        user does not exist."""
        values = {
            "asks_per_minute": asks_per_minute,
            "drafts_per_minute": drafts_per_minute,
            "ingests_per_hour": ingests_per_hour,
            "tokens_per_day": tokens_per_day,
        }
        new_row = insert(UserLimit).values(user_id=user_id, **values)
        statement = new_row.on_conflict_do_update(
            index_elements=[UserLimit.user_id],
            set_={name: new_row.excluded[name] for name in values},
        ).returning(UserLimit)
        async with database_errors_translated():
            row: UserLimit | None = await self.session.scalar(
                statement, execution_options={"populate_existing": True}
            )
        assert row is not None  # an upsert always returns its row
        return row
