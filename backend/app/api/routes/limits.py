"""Administrators' per-user overrides of the limits on costly work (app/services/usage_limits.py).

Administrators see and set any user's; a user may read their own, and another user's id answers
404 to them, as a missing one does. Users see what is left of their limits in `GET /usage`.
"""

from uuid import UUID

from fastapi import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import RuntimeSettingsDep, SessionDep
from app.api.owned import AdministeredUserId, ReadableUserId
from app.api.routing import api_router
from app.api.schemas.limits import LimitOverride, UserLimitsPublic
from app.core.config import Settings
from app.db.repositories import UserLimitRepository
from app.services.usage_limits import limits_for

router = api_router("/users", "limits", 404)


async def limits_report(
    session: AsyncSession, user_id: UUID, settings: Settings
) -> UserLimitsPublic:
    override = await UserLimitRepository(session).get_by_id(user_id)
    return UserLimitsPublic(
        user_id=user_id,
        override=None if override is None else LimitOverride.model_validate(override),
        override_updated_at=None if override is None else override.updated_at,
        effective=await limits_for(session, user_id, settings),
    )


@router.get("/{user_id:uuid}/limits")
async def get_user_limits(
    user_id: ReadableUserId, session: SessionDep, settings: RuntimeSettingsDep
) -> UserLimitsPublic:
    """A user's limits: their override, if any, and the limits in effect. Administrators see
    anyone's; a user sees their own (another user's id is 404)."""
    return await limits_report(session, user_id, settings)


@router.put("/{user_id:uuid}/limits")
async def put_user_limits(
    user_id: AdministeredUserId,
    body: LimitOverride,
    session: SessionDep,
    settings: RuntimeSettingsDep,
) -> UserLimitsPublic:
    """Replace a user's override: each limit given replaces the default for them (0 lifts it),
    each null or left out keeps the default. It applies from their next request, in every
    process. Administrators only."""
    await UserLimitRepository(session).replace(user_id, **body.model_dump())
    return await limits_report(session, user_id, settings)


@router.delete("/{user_id:uuid}/limits", status_code=204)
async def delete_user_limits(user_id: AdministeredUserId, session: SessionDep) -> Response:
    """Remove a user's override: the defaults apply to them again. Administrators only."""
    await UserLimitRepository(session).delete(user_id)
    return Response(status_code=204)
