"""Invitations to sign up, looked up by the SHA-256 of their token."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select

from app.db.models import Invitation
from app.db.repositories.base import BaseRepository
from app.db.repositories.paging import FIRST_PAGE, PageRequest, RowPage


class InvitationRepository(BaseRepository[Invitation]):
    model = Invitation

    async def create(
        self, *, created_by: UUID, email: str | None, token_hash: str, expires_at: datetime
    ) -> Invitation:
        return await self._insert(
            created_by=created_by, email=email, token_hash=token_hash, expires_at=expires_at
        )

    async def take_usable(self, token_hash: str) -> Invitation | None:
        """The invitation with this token, locked until the transaction ends, unless it was
        accepted or has expired: two sign-ups with one invitation cannot both use it."""
        statement = (
            select(Invitation)
            .where(
                Invitation.token_hash == token_hash,
                Invitation.accepted_at.is_(None),
                Invitation.expires_at > func.now(),
            )
            .with_for_update()
        )
        return await self.first(statement)

    async def mark_accepted(self, invitation_id: UUID) -> None:
        await self._set(invitation_id, accepted_at=func.now())

    async def page_all(self, page: PageRequest = FIRST_PAGE) -> RowPage[Invitation]:
        """A page of every invitation, accepted and expired ones included, newest first."""
        return await self._newest_first(page=page)
