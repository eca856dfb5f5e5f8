from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert

from app.db.errors import NotFoundError, database_errors_translated
from app.db.models import Session, User
from app.db.repositories.base import BaseRepository


def normalise_email(email: str) -> str:
    """Emails are compared case-insensitively: store and look them up trimmed and lower-cased."""
    return email.strip().lower()


# Built once: every authenticated request runs it, and building it costs more than running it.
_USER_BY_SESSION_TOKEN = (
    select(User)
    .join(Session, Session.user_id == User.id)
    .where(
        Session.token_hash == bindparam("token_hash"),
        Session.expires_at > func.statement_timestamp(),
    )
)


class UserRepository(BaseRepository[User]):
    model = User

    async def get_by_email(self, email: str) -> User | None:
        """The user with this email (any case, surrounding spaces ignored), or None."""
        statement = select(User).where(User.email == normalise_email(email))
        return await self.first(statement)

    async def create_unless_taken(self, *, email: str, password_hash: str) -> UUID | None:
        """Insert a user unless the email is taken: the new user's id, or None when it was
        taken. One statement, so two registrations of one email at once cannot turn into an
        error."""
        statement = (
            insert(User)
            .values(email=normalise_email(email), password_hash=password_hash)
            .on_conflict_do_nothing(index_elements=[User.email])
            .returning(User.id)
        )
        result = await self.execute(statement)
        created: UUID | None = result.scalar_one_or_none()
        return created

    async def update(self, id_: UUID, **values: Any) -> User:
        """Set the given columns; an email is stored trimmed and lower-cased, as registering
        stores it, so that it still clashes with the same address in another case."""
        if isinstance(values.get("email"), str):
            values["email"] = normalise_email(values["email"])
        return await super().update(id_, **values)

    async def get_by_session_token(self, token_hash: str) -> User | None:
        """The user of the live session with this token hash, in one query; None if unknown
        or expired. Every authenticated request makes this lookup."""
        async with database_errors_translated():
            result = await self.session.scalars(_USER_BY_SESSION_TOKEN, {"token_hash": token_hash})
            return result.first()

    async def set_admin(self, email: str, is_admin: bool = True) -> User:
        """Grant (or withdraw) administrator rights; NotFoundError for an unknown email."""
        user = await self.get_by_email(email)
        if user is None:
            raise NotFoundError("user", normalise_email(email))
        return await self.update(user.id, is_admin=is_admin)
