"""Limits on costly work, per user: asks, drafts and searches per minute, ingests and webhook
test pings per hour, language-model tokens per UTC day, and words of transcript stored in all.

The defaults are settings (`LIMIT_*`); an administrator may override any of them for one user
(table user_limits). 0 means no limit. `limits_for` is the one place both are read.

Asks, drafts, searches, ingests and test pings are counted in PostgreSQL (usage_counters) by one
INSERT … ON CONFLICT DO UPDATE per request, so every process and replica shares the counts and
two requests at the limit cannot both pass. Each counter counts over a fixed window (a minute,
an hour) that starts with the first request after the previous window ended. A request is
counted when it is admitted, before its work, whatever then becomes of the work; a refused one
is not counted.

Tokens: before a question or a draft starts, the day's tokens in the usage ledger and the
tokens reserved by work still under way must be below the limit; the work then reserves what
it may use at most (its prompt's budget and `LLM_MAX_TOKENS`) and takes it back when it records
its usage. The reservations are made under a per-user lock, so answers started together each
see the others', and the day's total can pass the limit by at most one answer. Each work
releases its own reservation (by its id), when it records its usage or when it fails
(`released_if_unfinished`); one whose process died counts until it expires
(`TOKEN_RESERVATION_LASTS`).

Stored words are a quota, not a rate: a transcript that would take the user's library past it is
refused (`QuotaExceededError`), whatever the time.
"""

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import TypedDict, Unpack
from uuid import UUID

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.db.models import LimitedAction, UserLimit
from app.db.repositories import (
    CounterWindow,
    TokenReservationRepository,
    TranscriptRepository,
    UsageCounterRepository,
    UsageRepository,
    UserLimitRepository,
)
from app.db.session import UnitOfWork, skip_disk_flush_at_commit
from app.services.llm import OFFLINE_PROVIDER, LanguageModel, Usage


@dataclass(frozen=True, slots=True)
class LimitValues:
    """A user's limits in effect; 0 is no limit."""

    asks_per_minute: int
    drafts_per_minute: int
    ingests_per_hour: int
    tokens_per_day: int
    searches_per_minute: int
    webhook_tests_per_hour: int
    stored_words: int

    @classmethod
    def defaults(cls, settings: Settings) -> "LimitValues":
        """The server's limits: each one's setting, `LIMIT_<NAME>`."""
        return cls(**{name: getattr(settings, f"limit_{name}") for name in LIMIT_NAMES})

    def overridden_by(self, override: UserLimit | None) -> "LimitValues":
        """These limits, with each one the override sets (not NULL) replaced."""
        if override is None:
            return self
        chosen = {}
        for name in LIMIT_NAMES:
            value = getattr(override, name)
            chosen[name] = getattr(self, name) if value is None else value
        return LimitValues(**chosen)


LIMIT_NAMES = tuple(field.name for field in fields(LimitValues))
TOKENS_PER_DAY = "tokens_per_day"
STORED_WORDS = "stored_words"
# Longer than any answer or draft takes (the language model's own timeout is shorter).
TOKEN_RESERVATION_LASTS = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class CountedLimit:
    """A limit counted in usage_counters: its name (a `LimitValues` field) and its window."""

    name: str
    window: timedelta


COUNTED = {
    LimitedAction.ASK: CountedLimit("asks_per_minute", timedelta(minutes=1)),
    LimitedAction.DRAFT: CountedLimit("drafts_per_minute", timedelta(minutes=1)),
    LimitedAction.INGEST: CountedLimit("ingests_per_hour", timedelta(hours=1)),
    LimitedAction.SEARCH: CountedLimit("searches_per_minute", timedelta(minutes=1)),
    LimitedAction.WEBHOOK_TEST: CountedLimit("webhook_tests_per_hour", timedelta(hours=1)),
}
# Work that calls the language model, refused once the day's tokens reach the limit.
SPENDS_TOKENS = frozenset({LimitedAction.ASK, LimitedAction.DRAFT})


class LimitError(Exception):
    """A limit (a `LimitValues` field: its name, as people read it, and its value) refused work."""

    def __init__(self, name: str, limit: int, said_before: str = "") -> None:
        self.name = name
        self.label = name.replace("_", " ")
        self.limit = limit
        super().__init__(f"{said_before}{self.label}: {limit}")


class LimitReachedError(LimitError):
    """A limit refused the request until it frees, `retry_after` seconds from now."""

    def __init__(self, name: str, limit: int, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(name, limit)


class BeyondLimitError(LimitError):
    """The request counts more at once (the videos of a collection) than its limit allows in a
    whole window: waiting would never admit it."""

    def __init__(self, name: str, limit: int, amount: int) -> None:
        self.amount = amount
        super().__init__(name, limit, f"{amount} at once, past ")


class QuotaExceededError(Exception):
    """Storing this would take the user's library past its stored-words quota."""

    def __init__(self, limit: int, used: int, adding: int) -> None:
        self.limit = limit
        self.used = used
        self.adding = adding
        super().__init__(
            f"This transcript has {adding:,} words and your library holds {used:,} of the "
            f"{limit:,} it may: delete videos to make room."
        )


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds from `now` until `moment`, at least 1 (for `Retry-After`)."""
    return max(1, math.ceil((moment - now).total_seconds()))


async def limits_for(session: AsyncSession, user_id: UUID, settings: Settings) -> LimitValues:
    """The user's limits: the server's defaults, with the user's override applied."""
    override = await UserLimitRepository(session).get_by_id(user_id)
    return LimitValues.defaults(settings).overridden_by(override)


async def admit(
    session: AsyncSession,
    user_id: UUID,
    action: LimitedAction,
    settings: Settings,
    *,
    spends_tokens: bool = True,
    amount: int = 1,
) -> UUID | None:
    """Count the request against the user's limits (`amount` times: each video of a playlist
    counts), or raise LimitReachedError. The id of the tokens reserved for the work, when it
    spends tokens under a daily limit: the work releases it (`release_tokens`).

    The count is in `session`'s transaction and holds the counter's row lock until it ends:
    commit soon after, before slow work, so that the user's next request is not kept waiting
    (`admit_and_commit` does).
    """
    limits = await limits_for(session, user_id, settings)
    reservation = None
    if spends_tokens and action in SPENDS_TOKENS and limits.tokens_per_day:
        reservation = await _reserve_tokens(session, user_id, limits.tokens_per_day, settings)
    counted = COUNTED[action]
    limit = getattr(limits, counted.name)
    if limit and amount > limit:  # can never fit: no window would admit it
        raise BeyondLimitError(counted.name, limit, amount)
    counters = UsageCounterRepository(session)
    admission = await counters.count_many(user_id, action, counted.window, limit or None, amount)
    if not admission.admitted:
        counter = admission.counter
        wait = seconds_until(counter.window_start + counted.window, counter.now)
        raise LimitReachedError(counted.name, limit, wait)
    return reservation


class AdmitOptions(TypedDict, total=False):
    """`admit`'s keyword arguments, for those that pass them on."""

    spends_tokens: bool
    amount: int


async def admit_and_commit(
    session: AsyncSession,
    user_id: UUID,
    action: LimitedAction,
    settings: Settings,
    **options: Unpack[AdmitOptions],
) -> UUID | None:
    """`admit`, then commit `session` at once, before the work: the count stands whatever becomes
    of the work, and the counter's lock is not held during it. Call it before the request writes
    anything else: the commit does not wait for the disk (a crash may forget the last counts,
    which a limit can afford; a request's own rows must not be lost so)."""
    await skip_disk_flush_at_commit(session)
    reservation = await admit(session, user_id, action, settings, **options)
    await session.commit()
    return reservation


async def give_back(session: AsyncSession, user_id: UUID, action: LimitedAction) -> None:
    """Uncount one request `admit_and_commit` counted and that was then refused for what it
    sent (a caption file that does not parse): a refused request does not count. Committed."""
    await UsageCounterRepository(session).give_back(user_id, action, COUNTED[action].window)
    await session.commit()


async def has_tokens_left(session: AsyncSession, user_id: UUID, settings: Settings) -> bool:
    """Whether the user's day has tokens left, for work nobody asked for just now (a model's
    chapter titles): it is skipped, not refused, when there are none."""
    limit = (await limits_for(session, user_id, settings)).tokens_per_day
    if not limit:
        return True
    today = await UsageRepository(session).tokens_today(user_id, free_provider=OFFLINE_PROVIDER)
    reserved = await TokenReservationRepository(session).reserved(user_id)
    return today.tokens + reserved + token_budget(settings) <= limit


def token_budget(settings: Settings) -> int:
    """The most tokens one answer or draft is expected to use: its excerpts, and what the model
    may write."""
    return settings.chat_context_chunks * settings.chunk_tokens + settings.llm_max_tokens


async def _reserve_tokens(
    session: AsyncSession, user_id: UUID, limit: int, settings: Settings
) -> UUID:
    reservations = TokenReservationRepository(session)
    await reservations.lock_user(user_id)
    today = await UsageRepository(session).tokens_today(user_id, free_provider=OFFLINE_PROVIDER)
    if today.tokens + await reservations.reserved(user_id) >= limit:
        raise LimitReachedError(TOKENS_PER_DAY, limit, seconds_until(today.day_ends_at, today.now))
    return await reservations.reserve(user_id, token_budget(settings), TOKEN_RESERVATION_LASTS)


async def record_usage(
    session: AsyncSession, user_id: UUID, kind: str, model: LanguageModel, usage: Usage
) -> None:
    """A model call's line in the usage ledger, which the tokens per day are counted from."""
    # The fields of Usage are the ledger's token columns, by the same names.
    await UsageRepository(session).record(
        user_id=user_id, kind=kind, provider=model.provider, model=model.model, **asdict(usage)
    )


async def release_tokens(session: AsyncSession, user_id: UUID, reservation: UUID | None) -> None:
    """Work that reserved tokens has recorded what it used: take its reservation back."""
    if reservation is not None:
        await TokenReservationRepository(session).release(user_id, reservation)


@asynccontextmanager
async def released_if_unfinished(
    unit_of_work: UnitOfWork, reservation: UUID | None
) -> AsyncIterator[None]:
    """Release the work's reservation if the block fails (a model that is down, a draft no
    video covers, a conversation deleted meanwhile), in a transaction of its own: the request's
    may be rolled back. Otherwise it would hold the user's tokens until it expires."""
    try:
        yield
    except BaseException:
        if reservation is not None:
            with anyio.CancelScope(shield=True):
                async with unit_of_work() as session:
                    # The request's transaction may have released it already, and not ended.
                    await TokenReservationRepository(session).release_unless_held(reservation)
        raise


async def check_stored_words(
    session: AsyncSession, user_id: UUID, adding: int, settings: Settings
) -> None:
    """QuotaExceededError when `adding` more words would take the library past its quota."""
    limit = (await limits_for(session, user_id, settings)).stored_words
    if not limit:
        return
    transcripts = TranscriptRepository(session)
    await transcripts.lock_library(user_id)
    used = await transcripts.words_stored(user_id)
    if used + adding > limit:
        raise QuotaExceededError(limit, used, adding)


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
    today = await UsageRepository(session).tokens_today(user_id, free_provider=OFFLINE_PROVIDER)
    statuses[TOKENS_PER_DAY] = _status(
        TOKENS_PER_DAY, limits.tokens_per_day, today.tokens, today.day_ends_at
    )
    words = await TranscriptRepository(session).words_stored(user_id)
    statuses[STORED_WORDS] = _status(STORED_WORDS, limits.stored_words, words, None)
    return [statuses[name] for name in LIMIT_NAMES]
