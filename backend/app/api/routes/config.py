from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.api.deps import AdminUser, SessionDep
from app.api.errors import error_responses, not_found
from app.api.schemas.common import Limit, Offset, Page, page_of
from app.api.schemas.config import ConfigEntry, ConfigWrite
from app.db.models import Config
from app.db.repositories import ConfigRepository

router = APIRouter(prefix="/config", tags=["config"], responses=error_responses(401, 403, 422))

ConfigKey = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]


@router.get("", response_model=Page[ConfigEntry])
async def list_config(
    _: AdminUser, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> Page[ConfigEntry]:
    """Every setting, by key. Administrators only."""
    config = ConfigRepository(session)
    items = await config.list(order_by=[Config.key], limit=limit, offset=offset)
    return page_of(ConfigEntry, items, await config.count(), limit, offset)


@router.get("/{key}", response_model=ConfigEntry, responses=error_responses(404))
async def get_config(key: ConfigKey, _: AdminUser, session: SessionDep) -> Config:
    entry = await ConfigRepository(session).get_by_id(key)
    if entry is None:
        raise not_found("Config key", key)
    return entry


@router.put("/{key}", response_model=ConfigEntry)
async def put_config(
    key: ConfigKey, body: ConfigWrite, _: AdminUser, session: SessionDep
) -> Config:
    """Set the value under key (created or replaced)."""
    return await ConfigRepository(session).set_value(key, body.value, body.description)


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))
async def delete_config(key: ConfigKey, _: AdminUser, session: SessionDep) -> Response:
    if not await ConfigRepository(session).delete(key):
        raise not_found("Config key", key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
