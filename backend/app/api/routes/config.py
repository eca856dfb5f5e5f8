"""Runtime settings for administrators: what is in effect, changes, and their history.

The keys, types and bounds are declared in app/core/runtime_settings.py; README, "Runtime
settings", lists them.
"""

from typing import Annotated

from fastapi import Path, Response

from app.api.deps import AdminUser, RuntimeSettingsStoreDep, SessionDep, SettingsDep
from app.api.errors import ApiError, ErrorDetail, error_responses, not_found
from app.api.routing import api_router
from app.api.schemas.common import LongPaging, Page, SettingsPaging, page_of
from app.api.schemas.config import ConfigChangePublic, ConfigWrite, SettingPublic
from app.core.runtime_settings import InvalidSettingError, UnknownSettingError
from app.services import runtime_settings

router = api_router("/config", "config")

ConfigKey = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]


def unknown_setting(error: UnknownSettingError) -> ApiError:
    detail = ErrorDetail(field="path.key", message=str(error), type="unknown_setting")
    return ApiError(422, "validation_error", str(error), details=[detail])


def invalid_setting(error: InvalidSettingError) -> ApiError:
    details = [
        ErrorDetail(field="body.value", message=f"{error.key}: {problem}", type="invalid_setting")
        for problem in error.problems
    ]
    return ApiError(422, "validation_error", str(error), details=details)


@router.get("")
async def list_config(
    _: AdminUser, session: SessionDep, settings: SettingsDep, paging: SettingsPaging
) -> Page[SettingPublic]:
    """Every runtime setting with its value in effect and where it comes from, then any stored
    key that is no setting (`source: ignored`). Administrators only."""
    page = await runtime_settings.describe_settings(session, settings, paging)
    return page_of(SettingPublic, page)


@router.get("/{key}", responses=error_responses(404))
async def get_config(
    key: ConfigKey, _: AdminUser, session: SessionDep, settings: SettingsDep
) -> SettingPublic:
    try:
        view = await runtime_settings.describe_setting(session, settings, key)
    except UnknownSettingError as error:
        raise not_found("Config key", key) from error
    return SettingPublic.model_validate(view)


@router.put("/{key}")
async def put_config(
    key: ConfigKey,
    body: ConfigWrite,
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    store: RuntimeSettingsStoreDep,
) -> SettingPublic:
    """Override a runtime setting; every process uses the new value within
    `RUNTIME_SETTINGS_CACHE_SECONDS` (this one at once). 422 naming the key when it is no
    setting or the value does not fit its type and bounds. The change is recorded."""
    try:
        view = await runtime_settings.set_override(session, settings, key, body.value, admin.id)
    except UnknownSettingError as error:
        raise unknown_setting(error) from error
    except InvalidSettingError as error:
        raise invalid_setting(error) from error
    await session.commit()  # before the cache is dropped, so no reload sees the old value
    store.invalidate()
    return SettingPublic.model_validate(view)


@router.delete("/{key}", status_code=204, responses=error_responses(404))
async def delete_config(
    key: ConfigKey, admin: AdminUser, session: SessionDep, store: RuntimeSettingsStoreDep
) -> Response:
    """Remove the override: the setting returns to its default. The change is recorded."""
    if not await runtime_settings.remove_override(session, key, admin.id):
        raise not_found("Config key", key)
    await session.commit()
    store.invalidate()
    return Response(status_code=204)


@router.get("/{key}/history", responses=error_responses(404))
async def config_history(
    key: ConfigKey, _: AdminUser, session: SessionDep, paging: LongPaging
) -> Page[ConfigChangePublic]:
    """Who changed the key's override and when, with the values before and after; newest
    first."""
    try:
        page = await runtime_settings.setting_history(session, key, paging)
    except UnknownSettingError as error:
        raise not_found("Config key", key) from error
    return page_of(ConfigChangePublic, page)
