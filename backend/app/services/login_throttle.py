"""Throttling of failed logins, shared by every process and replica through PostgreSQL.

Three counters (table login_failures, keyed by SHA-256 digests: no email or address in clear):

- **one email from one client address**, and **one client address whatever the email**. An
  attempt is counted *before* its password is checked, in its own committed transaction, so
  attempts sent together cannot all slip through on the same count; a successful login takes its
  count back. Past the allowance, each attempt must come base, 2 x base, 4 x base ... (capped)
  after the one before, or it is refused with 429 and `Retry-After`. A refused attempt counts too:
  hammering only lengthens the wait.
- **one email from every address**: passwords checked and found wrong. Past the ceiling, an
  address that has itself failed for that email in its window waits until the email's window
  ends. An address with no failure for it, such as the owner's, is still let in: strangers
  failing elsewhere cannot lock the owner out.

Each counter counts over a fixed window from its first attempt, then starts again. IPv6 clients
are counted per /64, the block one subscriber usually holds, so that changing addresses within it
does not give a fresh count.
"""

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.db.models import LoginFailureScope
from app.db.repositories import CounterKey, FailureCount, LoginFailureRepository
from app.db.repositories.user import normalise_email
from app.db.session import UnitOfWork, skip_disk_flush_at_commit

# 2^60 x any base is far past any cap; stopping there keeps the power a float.
MAX_DOUBLINGS = 60


def client_network(host: str) -> str:
    """The address a client is counted by: IPv6 per /64, IPv4 (or an IPv4-mapped IPv6) as is."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def key_digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """Who is trying: the normalised email and the client's counted address."""

    email: str
    client: str

    @classmethod
    def of(cls, email: str, host: str) -> "LoginAttempt":
        return cls(normalise_email(email), client_network(host))

    def key(self, scope: LoginFailureScope) -> str:
        """The digest this attempt is counted under in `scope`."""
        if scope is LoginFailureScope.EMAIL_CLIENT:
            return key_digest(self.email, self.client)
        if scope is LoginFailureScope.CLIENT:
            return key_digest(self.client)
        return key_digest(self.email)


@dataclass(frozen=True, slots=True)
class Backoff:
    """`allowance` attempts at once, then doubling waits from `base` seconds up to `cap`."""

    allowance: int
    base: float
    cap: float

    def wait_after(self, failures: int) -> float:
        """How long the attempt after the `failures`-th must wait after it."""
        if failures < self.allowance:
            return 0.0
        return min(math.ldexp(self.base, min(failures - self.allowance, MAX_DOUBLINGS)), self.cap)

    def retry_after(self, count: FailureCount) -> float | None:
        """For the attempt just counted: None if it came late enough after the one before it,
        else how long the next one must wait (this one counted, so the wait has grown)."""
        wait = self.wait_after(count.failures - 1)
        if count.previous_failure_at is None or wait == 0:
            return None
        if count.last_failure_at >= count.previous_failure_at + timedelta(seconds=wait):
            return None
        return self.wait_after(count.failures)


class LoginThrottle:
    """Decides whether a login attempt may have its password checked, and records outcomes."""

    def __init__(self, settings: Settings, unit_of_work: UnitOfWork) -> None:
        base, cap = settings.login_backoff_base_seconds, settings.login_backoff_max_seconds
        self.backoffs = {
            LoginFailureScope.EMAIL_CLIENT: Backoff(
                settings.login_backoff_after_failures, base, cap
            ),
            LoginFailureScope.CLIENT: Backoff(
                settings.login_client_backoff_after_failures, base, cap
            ),
        }
        self.window = timedelta(seconds=settings.login_failure_window_seconds)
        self.ceiling = settings.login_email_failure_ceiling
        self.ceiling_window = timedelta(seconds=settings.login_email_ceiling_window_seconds)
        self.unit_of_work = unit_of_work

    async def admit(self, attempt: LoginAttempt) -> int | None:
        """Count the attempt and decide: None when its password may be checked, else the
        seconds to wait (for 429's `Retry-After`).

        Committed on its own before the password is checked, so that concurrent attempts, in
        this process or another, see it and each get their own number.
        """
        keys = [CounterKey(scope, attempt.key(scope), self.window) for scope in self.backoffs]
        async with self.unit_of_work() as session:
            await skip_disk_flush_at_commit(session)
            counters = LoginFailureRepository(session)
            counts = await counters.add_one(keys)
            waits = [backoff.retry_after(counts[scope]) for scope, backoff in self.backoffs.items()]
            pair = counts[LoginFailureScope.EMAIL_CLIENT]
            if not any(waits) and pair.failures > 1:
                waits.append(await self._ceiling_wait(counters, attempt, pair))
        longest = max((wait for wait in waits if wait), default=None)
        return None if longest is None else math.ceil(longest)

    async def _ceiling_wait(
        self, counters: LoginFailureRepository, attempt: LoginAttempt, pair: FailureCount
    ) -> float | None:
        """Only for an address that failed for this email before: the rest of the email's
        window once the email is past its ceiling."""
        email = await counters.get_live(
            LoginFailureScope.EMAIL, attempt.key(LoginFailureScope.EMAIL)
        )
        if email is None or email.failures < self.ceiling:
            return None
        return (email.expires_at - pair.last_failure_at).total_seconds()

    async def record_failure(self, attempt: LoginAttempt) -> None:
        """A wrong password: counted against the email, in a transaction of its own (the
        request's is rolled back with its 401)."""
        key = LoginFailureScope.EMAIL
        async with self.unit_of_work() as session:
            await skip_disk_flush_at_commit(session)
            counters = LoginFailureRepository(session)
            await counters.add_one([CounterKey(key, attempt.key(key), self.ceiling_window)])

    async def record_success(self, session: AsyncSession, attempt: LoginAttempt) -> None:
        """The right password: clear this email's count from this address, and take this
        attempt back from the address's count, so that an office behind one address is not
        slowed by its own logins. In the request's transaction, with the new session."""
        counters = LoginFailureRepository(session)
        pair, client = LoginFailureScope.EMAIL_CLIENT, LoginFailureScope.CLIENT
        await counters.forget(pair, attempt.key(pair))
        await counters.take_back_one(client, attempt.key(client))
