from datetime import date, datetime

from pydantic import BaseModel, Field

from app.api.schemas.common import OrmModel


class DailyUsagePublic(OrmModel):
    day: date
    calls: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class LimitStatusPublic(OrmModel):
    limit: int = Field(description="The limit in effect for you; 0 is no limit.")
    used: int = Field(description="Used in the current window (today, UTC, for tokens).")
    remaining: int | None = Field(description="What is left; null when there is no limit.")
    resets_at: datetime | None = Field(
        description="When the current window ends and `used` starts again from 0; null when no "
        "window is running (the next request starts one)."
    )


class LimitsReport(BaseModel):
    asks_per_minute: LimitStatusPublic
    drafts_per_minute: LimitStatusPublic
    ingests_per_hour: LimitStatusPublic = Field(
        description="Links to fetch, caption uploads and stored transcripts together."
    )
    tokens_per_day: LimitStatusPublic = Field(
        description="Language-model tokens (prompt and completion) per UTC day. A question or "
        "draft starts only below it, and reserves what it may use until it ends: the day's total "
        "passes it by one answer at most."
    )
    searches_per_minute: LimitStatusPublic
    webhook_tests_per_hour: LimitStatusPublic = Field(
        description="Webhook test pings and deliveries sent again."
    )
    stored_words: LimitStatusPublic = Field(
        description="Words of transcript your library holds, against its quota (no window)."
    )


class UsageReport(BaseModel):
    days: int
    daily: list[DailyUsagePublic]
    total_tokens: int
    limits: LimitsReport
