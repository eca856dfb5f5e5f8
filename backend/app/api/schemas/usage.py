from datetime import date

from pydantic import BaseModel


class DailyUsagePublic(BaseModel):
    day: date
    calls: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class UsageReport(BaseModel):
    days: int
    daily: list[DailyUsagePublic]
    total_tokens: int
