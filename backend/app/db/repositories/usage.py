from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import text

from app.db.models import UsageEvent
from app.db.repositories.base import BaseRepository


@dataclass(frozen=True, slots=True)
class DailyUsage:
    day: date
    calls: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class TokensToday:
    """Tokens used since the start of the current UTC day, which ends at `day_ends_at`; `now`
    is the database's time when they were summed."""

    tokens: int
    day_ends_at: datetime
    now: datetime


class UsageRepository(BaseRepository[UsageEvent]):
    """The usage ledger: one row per language-model call."""

    model = UsageEvent

    async def record(
        self,
        *,
        user_id: UUID,
        kind: str,
        provider: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> UsageEvent:
        return await self._insert(
            user_id=user_id,
            kind=kind,
            provider=provider,
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    async def daily_totals(self, user_id: UUID, days: int) -> list[DailyUsage]:
        """One row per UTC day for the last `days` days (today included), zeros where idle."""
        rows = (await self.execute(_DAILY_TOTALS.bindparams(user_id=user_id, days=days))).all()
        return [
            DailyUsage(day, int(calls), int(prompt), int(completion))
            for day, calls, prompt, completion in rows
        ]

    async def tokens_today(self, user_id: UUID, *, free_provider: str = "") -> TokensToday:
        """Prompt and completion tokens of every call the user made today (UTC), but those of
        `free_provider` (the offline answerer: its tokens are an estimate, and cost nothing)."""
        statement = _TOKENS_TODAY.bindparams(user_id=user_id, free_provider=free_provider)
        row = (await self.execute(statement)).one()
        return TokensToday(int(row.tokens), row.day_ends_at, row.now)


# Days are UTC days, counted by the database's clock.
_DAILY_TOTALS = text("""
    WITH bounds AS (
        SELECT (now() AT TIME ZONE 'UTC')::date - (CAST(:days AS integer) - 1) AS first_day,
               (now() AT TIME ZONE 'UTC')::date AS today
    ),
    calendar AS (
        SELECT generate_series(first_day, today, interval '1 day')::date AS day FROM bounds
    ),
    events AS (
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, prompt_tokens, completion_tokens
          FROM usage_events, bounds
         WHERE user_id = :user_id
           AND created_at >= (first_day::timestamp AT TIME ZONE 'UTC')
    )
    SELECT calendar.day,
           count(events.day),
           coalesce(sum(events.prompt_tokens), 0),
           coalesce(sum(events.completion_tokens), 0)
      FROM calendar LEFT JOIN events USING (day)
     GROUP BY calendar.day
     ORDER BY calendar.day
""")

# The (user_id, created_at) index finds the day's rows.
_TOKENS_TODAY = text("""
    SELECT coalesce(sum(events.prompt_tokens + events.completion_tokens), 0) AS tokens,
           today.start + interval '1 day' AS day_ends_at,
           statement_timestamp() AS now
      FROM (SELECT date_trunc('day', statement_timestamp(), 'UTC') AS start) AS today
      LEFT JOIN usage_events AS events
        ON events.user_id = :user_id AND events.created_at >= today.start
       AND events.provider IS DISTINCT FROM :free_provider
     GROUP BY today.start
""")
