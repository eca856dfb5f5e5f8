from typing import Annotated

from fastapi import Query

from app.api.deps import CurrentUser, RuntimeSettingsDep, SessionDep
from app.api.routing import api_router
from app.api.schemas.usage import DailyUsagePublic, LimitsReport, LimitStatusPublic, UsageReport
from app.db.repositories import UsageRepository
from app.services.usage_limits import limit_statuses

router = api_router("/usage", "usage")


@router.get("")
async def get_usage(
    user: CurrentUser,
    session: SessionDep,
    settings: RuntimeSettingsDep,
    days: Annotated[int, Query(ge=1, le=366)] = 7,
) -> UsageReport:
    """The caller's language-model token usage per UTC day, oldest first, today included; and
    the caller's limits on costly work, with what is used and left of each."""
    daily = await UsageRepository(session).daily_totals(user.id, days)
    statuses = await limit_statuses(session, user.id, settings)
    limits = {status.name: LimitStatusPublic.model_validate(status) for status in statuses}
    return UsageReport(
        days=days,
        daily=[DailyUsagePublic.model_validate(row) for row in daily],
        total_tokens=sum(row.total_tokens for row in daily),
        limits=LimitsReport(**limits),
    )
