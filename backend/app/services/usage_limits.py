"""Limits on costly work, per user: asks and drafts per minute, ingests per hour, and
language-model tokens per UTC day.

The defaults are settings (`LIMIT_*`); an administrator may override any of them for one user
(table user_limits). 0 means no limit. `limits_for` is the one place both are read.

Asks, drafts and ingests are counted in PostgreSQL (usage_counters) by one
INSERT … ON CONFLICT DO UPDATE per request, so every process and replica shares the counts and
two requests at the limit cannot both pass. Each counter counts over a fixed window (a minute,
an hour) that starts with the first request after the previous window ended. A request is
counted when it is admitted, before its work, whatever then becomes of the work; a refused one
is not counted.

Tokens are summed from the usage ledger for the current UTC day before a question or a draft
starts. Answers already under way when the limit is reached still finish, so the day's total
can pass the limit by those answers.
"""

import math
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.db.models import LimitedAction, UserLimit
from app.db.repositories import (
    CounterWindow,
    UsageCounterRepository,
    UsageRepository,
    UserLimitRepository,
)


@dataclass(frozen=True, slots=True)
class Limits:
    """A user's limits in effect; 0 is no limit."""

    asks_per_minute: int
    drafts_per_minute: int
    ingests_per_hour: int
    tokens_per_day: int

    @classmethod
    def defaults(cls, settings: Settings) -> "Limits":
        return cls(
            asks_per_minute=settings.limit_asks_per_minute,
            drafts_per_minute=settings.limit_drafts_per_minute,
            ingests_per_hour=settings.limit_ingests_per_hour,
            tokens_per_day=settings.limit_tokens_per_day,
        )

    def overridden_by(self, override: UserLimit | None) -> "Limits":
        """These limits, with each one the override sets (not NULL) replaced."""
        if override is None:
            return self
        chosen = {}
        for name in LIMIT_NAMES:
            value = getattr(override, name)
            chosen[name] = getattr(self, name) if value is None else value
        return Limits(**chosen)


LIMIT_NAMES = tuple(field.name for field in fields(Limits))
TOKENS_PER_DAY = "tokens_per_day"


@dataclass(frozen=True, slots=True)
class CountedLimit:
    """A limit counted in usage_counters: its name (a `Limits` field) and its window."""

    name: str
    window: timedelta


COUNTED = {
    LimitedAction.ASK: CountedLimit("asks_per_minute", timedelta(minutes=1)),
    LimitedAction.DRAFT: CountedLimit("drafts_per_minute", timedelta(minutes=1)),
    LimitedAction.INGEST: CountedLimit("ingests_per_hour", timedelta(hours=1)),
}
# Work that calls the language model, refused once the day's tokens reach the limit.
SPENDS_TOKENS = frozenset({LimitedAction.ASK, LimitedAction.DRAFT})


class LimitReachedError(Exception):
    """A limit refused the request: its name, its value, and the seconds until it frees."""

    def __init__(self, name: str, limit: int, retry_after: int) -> None:
        self.name = name
        self.label = name.replace("_", " ")
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(f"{self.label}: {limit}")


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds from `now` until `moment`, at least 1 (for `Retry-After`)."""
    return max(1, math.ceil((moment - now).total_seconds()))


async def limits_for(session: AsyncSession, user_id: UUID, settings: Settings) -> Limits:
    """The user's limits: the server's defaults, with the user's override applied."""
    override = await UserLimitRepository(session).get_by_id(user_id)
    return Limits.defaults(settings).overridden_by(override)


async def admit(
    session: AsyncSession, user_id: UUID, action: LimitedAction, settings: Settings
) -> None:
    """Count the request against the user's limits, or raise LimitReachedError.

    The count is in `session`'s transaction and holds the counter's row lock until it ends:
    commit soon after, before slow work, so that the user's next request is not kept waiting
    (`admit_and_commit` does).
    """
    limits = await limits_for(session, user_id, settings)
    if action in SPENDS_TOKENS and limits.tokens_per_day:
        await _check_tokens(session, user_id, limits.tokens_per_day)
    counted = COUNTED[action]
    limit = getattr(limits, counted.name)
    counters = UsageCounterRepository(session)
    admission = await counters.count_one(user_id, action, counted.window, limit or None)
    if not admission.admitted:
        counter = admission.counter
        wait = seconds_until(counter.window_start + counted.window, counter.now)
        raise LimitReachedError(counted.name, limit, wait)


async def admit_and_commit(
    session: AsyncSession, user_id: UUID, action: LimitedAction, settings: Settings
) -> None:
    """`admit`, then commit `session` at once, before the work: the count stands whatever becomes
    of the work, and the counter's lock is not held during it. Call it before the request writes
    anything else: the commit does not wait for the disk (a crash may forget the last counts,
    which a limit can afford; a request's own rows must not be lost so)."""
    counters = UsageCounterRepository(session)
    await counters.commit_without_waiting_for_disk()
    await admit(session, user_id, action, settings)
    await session.commit()


async def _check_tokens(session: AsyncSession, user_id: UUID, limit: int) -> None:
    today = await UsageRepository(session).tokens_today(user_id)
    if today.tokens >= limit:
        raise LimitReachedError(TOKENS_PER_DAY, limit, seconds_until(today.day_ends_at, today.now))


@dataclass(frozen=True, slots=True)
class LimitStatus:
    """Where a user stands against one limit. `remaining` is None when there is no limit;
    `resets_at` is None when no window is running (the next request starts one)."""

    name: str
    limit: int
    used: int
    remaining: int | None
    resets_at: datetime | None


def _status(name: str, limit: int, used: int, resets_at: datetime | None) -> LimitStatus:
    remaining = max(limit - used, 0) if limit else None
    return LimitStatus(name, limit, used, remaining, resets_at)


def _counted_status(
    counted: CountedLimit, limit: int, counter: CounterWindow | None, now: datetime
) -> LimitStatus:
    if counter is None or counter.window_start + counted.window <= now:
        return _status(counted.name, limit, 0, None)
    return _status(counted.name, limit, counter.used, counter.window_start + counted.window)


async def limit_statuses(
    session: AsyncSession, user_id: UUID, settings: Settings
) -> list[LimitStatus]:
    """Each of the user's limits, what is used of it and when it frees, in `LIMIT_NAMES` order."""
    limits = await limits_for(session, user_id, settings)
    now, counters = await UsageCounterRepository(session).for_user(user_id)
    statuses = {
        counted.name: _counted_status(
            counted, getattr(limits, counted.name), counters.get(action), now
        )
        for action, counted in COUNTED.items()
    }
    today = await UsageRepository(session).tokens_today(user_id)
    statuses[TOKENS_PER_DAY] = _status(
        TOKENS_PER_DAY, limits.tokens_per_day, today.tokens, today.day_ends_at
    )
    return [statuses[name] for name in LIMIT_NAMES]
