"""Who may create an account, and how fast one address may create them.

Each sign-up costs an Argon2 hash (64 MiB, tens of milliseconds of a core), and each account
multiplies the per-user limits, so sign-up is checked in this order, the cheap checks first,
and a refused attempt never reaches the hash:

1. `SIGNUP_MODE` (a runtime setting): `open`, `invitation` (only with an administrator's
   invitation) or `closed`.
2. The address's count: `SIGNUP_PER_ADDRESS_PER_HOUR` sign-ups per client address (IPv6 per
   /64) per hour, counted in PostgreSQL (login_failures, scope `signup_client`) in a transaction
   committed before the hash, so every process shares the count and concurrent attempts each get
   their own number. Refused attempts count too.
3. The invitation, when the mode asks for one (or one is given): unused, unexpired, and for this
   email if it names one. Locked until the account is committed, then marked accepted.
"""

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.security import token_digest
from app.db.models import Invitation, LoginFailureScope
from app.db.repositories import CounterKey, InvitationRepository, LoginFailureRepository
from app.db.session import UnitOfWork, skip_disk_flush_at_commit
from app.services.login_throttle import client_network, key_digest

SIGNUP_WINDOW = timedelta(hours=1)
INVITATION_MARKER = "inv_"


class SignupRefusedError(Exception):
    """Sign-up is closed, or needs an invitation this attempt does not hold."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SignupThrottledError(Exception):
    """This address created as many accounts as it may this hour."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def check_mode(settings: Settings, invitation: str | None) -> None:
    if settings.signup_mode == "closed":
        raise SignupRefusedError("signup_closed", "Sign-up is closed on this server.")
    if settings.signup_mode == "invitation" and invitation is None:
        raise SignupRefusedError(
            "invitation_required", "Sign-up needs an invitation from an administrator."
        )


async def count_signup(settings: Settings, unit_of_work: UnitOfWork, host: str) -> None:
    """Count this attempt against its address; SignupThrottledError past the hour's allowance.
    Committed at once, on its own: the request's own transaction may yet roll back."""
    allowance = settings.signup_per_address_per_hour
    if not allowance:
        return
    key = CounterKey(
        LoginFailureScope.SIGNUP_CLIENT, key_digest("signup", client_network(host)), SIGNUP_WINDOW
    )
    async with unit_of_work() as session:
        await skip_disk_flush_at_commit(session)
        count = (await LoginFailureRepository(session).add_one([key]))[
            LoginFailureScope.SIGNUP_CLIENT
        ]
    if count.failures > allowance:
        wait = (count.expires_at - count.last_failure_at).total_seconds()
        raise SignupThrottledError(max(1, math.ceil(wait)))


async def take_invitation(session: AsyncSession, token: str, email: str) -> Invitation:
    """The usable invitation this token names, for this email; locked in `session`'s
    transaction. SignupRefusedError otherwise, the same for every reason."""
    invitation = await InvitationRepository(session).take_usable(token_digest(token))
    if invitation is None or (invitation.email is not None and invitation.email != email):
        raise SignupRefusedError(
            "invitation_invalid", "The invitation is unknown, used, expired or for another email."
        )
    return invitation


@dataclass(frozen=True, slots=True)
class NewInvitation:
    invitation: Invitation
    token: str  # shown once, to the administrator who sends it on


async def invite(
    session: AsyncSession, created_by: UUID, email: str | None, settings: Settings
) -> NewInvitation:
    token = INVITATION_MARKER + secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + timedelta(hours=settings.invitation_ttl_hours)
    invitation = await InvitationRepository(session).create(
        created_by=created_by, email=email, token_hash=token_digest(token), expires_at=expires_at
    )
    return NewInvitation(invitation, token)
