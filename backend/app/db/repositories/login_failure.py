"""Login-attempt counters (login_failures): counted atomically, read, taken back, purged.

Every time is the database's (`statement_timestamp()`), so app servers whose clocks disagree
still share one notion of "too soon". The policy that reads the counters is
app/services/login_throttle.py.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Float, String, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from app.db.models import LoginFailure, LoginFailureScope
from app.db.repositories.base import BaseRepository

_NOW = func.statement_timestamp(type_=DateTime(timezone=True))


@dataclass(frozen=True, slots=True)
class CounterKey:
    """One counter to count an attempt on, and how long a window it counts over."""

    scope: LoginFailureScope
    key_hash: str
    window: timedelta


@dataclass(frozen=True, slots=True)
class FailureCount:
    """A counter as it stands: `failures` in the window that ends at `expires_at`."""

    scope: LoginFailureScope
    failures: int
    last_failure_at: datetime
    previous_failure_at: datetime | None
    expires_at: datetime


_COLUMNS = (
    LoginFailure.scope,
    LoginFailure.failures,
    LoginFailure.last_failure_at,
    LoginFailure.previous_failure_at,
    LoginFailure.expires_at,
)


def _as_counts(
    rows: Sequence[tuple[str, int, datetime, datetime | None, datetime]],
) -> list[FailureCount]:
    return [
        FailureCount(LoginFailureScope(scope), failures, last, previous, expires_at)
        for scope, failures, last, previous, expires_at in rows
    ]


class LoginFailureRepository(BaseRepository[LoginFailure]):
    """Counters of login attempts per scope and key digest, shared by every process."""

    model = LoginFailure

    async def add_one(self, keys: Sequence[CounterKey]) -> dict[LoginFailureScope, FailureCount]:
        """Add one to each counter in one statement and return them as they now stand.

        INSERT … ON CONFLICT DO UPDATE takes each row's lock, so attempts counted at the same
        moment by other transactions or processes are never lost: each gets its own number. A
        counter whose window has ended starts a new one (1, expiring `window` from now).
        """
        statement = _ADD_ONE.bindparams(
            scopes=[key.scope.value for key in keys],
            key_hashes=[key.key_hash for key in keys],
            window_seconds=[key.window.total_seconds() for key in keys],
        )
        result = await self.execute(statement)
        return {count.scope: count for count in _as_counts(result.all())}

    async def get_live(self, scope: LoginFailureScope, key_hash: str) -> FailureCount | None:
        """The counter in its current window, or None when there is none."""
        statement = select(*_COLUMNS).where(
            LoginFailure.scope == scope.value,
            LoginFailure.key_hash == key_hash,
            LoginFailure.expires_at > _NOW,
        )
        counts = _as_counts((await self.execute(statement)).all())
        return counts[0] if counts else None

    async def forget(self, scope: LoginFailureScope, key_hash: str) -> bool:
        """Delete the counter; False if there was none."""
        statement = delete(LoginFailure).where(
            LoginFailure.scope == scope.value, LoginFailure.key_hash == key_hash
        )
        return bool((await self.execute(statement)).rowcount)

    async def take_back_one(self, scope: LoginFailureScope, key_hash: str) -> None:
        """Subtract the one an attempt added (never below zero), leaving its window alone."""
        statement = (
            update(LoginFailure)
            .where(LoginFailure.scope == scope.value, LoginFailure.key_hash == key_hash)
            .values(failures=func.greatest(LoginFailure.failures - 1, 0))
            .execution_options(synchronize_session=False)
        )
        await self.execute(statement)

    async def delete_expired(self) -> int:
        """Purge every counter whose window has ended; returns how many were removed."""
        result = await self.execute(delete(LoginFailure).where(LoginFailure.expires_at <= _NOW))
        return int(result.rowcount)


# Written as SQL with arrays rather than a multi-row insert(): SQLAlchemy caches no compiled form
# of a multi-VALUES INSERT, and compiling it again took ~3 ms of CPU at every login attempt.
# In SET, `counter.` is the row before the update: previous_failure_at takes the old last one.
_ADD_ONE = text("""
INSERT INTO login_failures AS counter (scope, key_hash, failures, last_failure_at, expires_at)
SELECT new.scope, new.key_hash, 1, clock_timestamp(),
       statement_timestamp() + new.window_seconds * interval '1 second'
  FROM unnest(:scopes, :key_hashes, :window_seconds) AS new (scope, key_hash, window_seconds)
    ON CONFLICT (scope, key_hash) DO UPDATE
   SET failures = CASE WHEN counter.expires_at <= statement_timestamp() THEN 1
                       ELSE counter.failures + 1 END,
       previous_failure_at = CASE WHEN counter.expires_at <= statement_timestamp() THEN NULL
                                  ELSE counter.last_failure_at END,
       -- Read under the row lock, so attempts that queued on it get times in their order.
       last_failure_at = clock_timestamp(),
       expires_at = CASE WHEN counter.expires_at <= statement_timestamp() THEN excluded.expires_at
                         ELSE counter.expires_at END
RETURNING scope, failures, last_failure_at, previous_failure_at, expires_at
""").bindparams(
    bindparam("scopes", type_=ARRAY(String)),
    bindparam("key_hashes", type_=ARRAY(String)),
    bindparam("window_seconds", type_=ARRAY(Float)),
)
