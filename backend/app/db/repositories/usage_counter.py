"""Counters of costly actions per user (usage_counters): counted atomically up to a limit, read.

Each counter counts over a fixed window that starts at the first admission after the previous
window ended. Every time is the database's (`statement_timestamp()`), so app servers whose clocks
disagree still share one notion of when a window ends. The policy that sets the limits and the
windows is app/services/usage_limits.py.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import Integer, Interval, String, Uuid, bindparam, text

from app.db.models import LimitedAction, UsageCounter
from app.db.repositories.base import BaseRepository


@dataclass(frozen=True, slots=True)
class CounterWindow:
    """A counter as it stands: `used` admissions in the window that began at `window_start`;
    `now` is the database's time when it was read."""

    used: int
    window_start: datetime
    now: datetime


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of counting one action: admitted or not, and the counter after it."""

    admitted: bool
    counter: CounterWindow


class UsageCounterRepository(BaseRepository[UsageCounter]):
    """One counter per user and action, shared by every process."""

    model = UsageCounter

    async def count_many(
        self,
        user_id: UUID,
        action: LimitedAction,
        window: timedelta,
        limit: int | None,
        amount: int,
    ) -> Admission:
        """Count `amount` admissions at once unless that would take the current window past
        `limit` (None: no limit, always counted); all or none. A counter whose window has ended
        starts a new one at `amount`. Callers keep `amount` at most `limit`.

        INSERT … ON CONFLICT DO UPDATE takes the row's lock, so concurrent calls, in this process
        or another, queue on it and each sees the count the one before it left: at the limit,
        no two can both pass. A refused call changes nothing; the lock it took (held until its
        transaction ends) keeps the counter still while it is read back.
        """
        params = {
            "user_id": user_id,
            "action": action.value,
            "window": window,
            "cap": limit,
            "amount": amount,
        }
        row = (await self.execute(_COUNT_ONE.bindparams(**params))).first()
        if row is not None:
            return Admission(True, CounterWindow(*row))
        read_back = _READ_ONE.bindparams(user_id=user_id, action=action.value)
        refused = (await self.execute(read_back)).one()
        return Admission(False, CounterWindow(*refused))

    async def give_back(self, user_id: UUID, action: LimitedAction, window: timedelta) -> None:
        """Uncount one admission of the current window (a request refused after it was
        counted); nothing once that window has ended."""
        params = {"user_id": user_id, "action": action.value, "window": window}
        await self.execute(_GIVE_BACK.bindparams(**params))

    async def for_user(self, user_id: UUID) -> tuple[datetime, dict[LimitedAction, CounterWindow]]:
        """The database's time and the user's counters, as stored (ended windows included)."""
        rows = (await self.execute(_FOR_USER.bindparams(user_id=user_id))).all()
        now: datetime = rows[0].now
        counters = {
            LimitedAction(row.action): CounterWindow(row.used, row.window_start, now)
            for row in rows
            if row.action is not None
        }
        return now, counters


# In SET and WHERE, `counter.` is the row before the update, read under its lock.
_COUNT_ONE = text("""
INSERT INTO usage_counters AS counter (user_id, action, window_start, used)
VALUES (:user_id, :action, statement_timestamp(), :amount)
    ON CONFLICT (user_id, action) DO UPDATE
   SET used = CASE WHEN counter.window_start + :window <= statement_timestamp() THEN :amount
                   ELSE counter.used + :amount END,
       window_start = CASE WHEN counter.window_start + :window <= statement_timestamp()
                           THEN statement_timestamp() ELSE counter.window_start END
 WHERE counter.window_start + :window <= statement_timestamp()
    OR CAST(:cap AS integer) IS NULL
    OR counter.used + :amount <= :cap
RETURNING used, window_start, statement_timestamp()
""").bindparams(
    bindparam("user_id", type_=Uuid()),
    bindparam("action", type_=String),
    bindparam("window", type_=Interval),
    bindparam("cap", type_=Integer),
    bindparam("amount", type_=Integer),
)

_GIVE_BACK = text("""
UPDATE usage_counters SET used = used - 1
 WHERE user_id = :user_id AND action = :action AND used > 0
   AND window_start + :window > statement_timestamp()
""").bindparams(
    bindparam("user_id", type_=Uuid()),
    bindparam("action", type_=String),
    bindparam("window", type_=Interval),
)

# Only after _COUNT_ONE refused, in the same transaction: the row exists and is locked by it.
_READ_ONE = text("""
SELECT used, window_start, statement_timestamp()
  FROM usage_counters
 WHERE user_id = :user_id AND action = :action
""").bindparams(bindparam("user_id", type_=Uuid()), bindparam("action", type_=String))

# One row even when the user has no counter, so the database's time always comes back.
_FOR_USER = text("""
SELECT clock.now, counter.action, counter.used, counter.window_start
  FROM (SELECT statement_timestamp() AS now) AS clock
  LEFT JOIN usage_counters AS counter ON counter.user_id = :user_id
""").bindparams(bindparam("user_id", type_=Uuid()))
