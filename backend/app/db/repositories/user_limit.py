"""Administrators' overrides of one user's limits (user_limits)."""

from uuid import UUID

from sqlalchemy.dialects.postgresql import insert

from app.db.models import UserLimit
from app.db.repositories.base import BaseRepository

LIMIT_COLUMNS = tuple(
    column.name
    for column in UserLimit.__table__.columns
    if column.name not in ("user_id", "updated_at")
)


class UserLimitRepository(BaseRepository[UserLimit]):
    """One optional row per user; NULL in a column keeps the server's default for that limit."""

    model = UserLimit

    async def replace(self, user_id: UUID, **limits: int | None) -> UserLimit:
        """Set the user's override, every column at once (an upsert): each limit column not
        given is set to NULL. NotFoundError when the user does not exist."""
        values = {name: limits.get(name) for name in LIMIT_COLUMNS}
        unknown = set(limits) - set(LIMIT_COLUMNS)
        if unknown:
            raise TypeError(f"not limits: {', '.join(sorted(unknown))}")
        new_row = insert(UserLimit).values(user_id=user_id, **values)
        statement = new_row.on_conflict_do_update(
            index_elements=[UserLimit.user_id],
            set_={name: new_row.excluded[name] for name in values},
        ).returning(UserLimit)
        return await self.upserted(statement)
