"""The effective runtime settings of a process, and the administrators' changes to them.

Reading: `RuntimeSettings.effective(session)` is the process's `Settings` with the overrides
stored in `config` applied (the keys of app/core/runtime_settings.py). Each process keeps them
in memory and reads them again, in one statement, at most once per
`RUNTIME_SETTINGS_CACHE_SECONDS` (5 s by default): in the steady state a request costs no round
trip, and a change reaches every process within that time. The process that made the change
drops its copy once the change is committed, so its next request already sees it.

Writing: `set_override` and `remove_override` change an override and record the change in
`config_changes` in the caller's transaction, so both happen or neither does.
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.runtime_settings import (
    RUNTIME_SETTINGS,
    InvalidSettingError,
    RuntimeSetting,
    UnknownSettingError,
    runtime_setting,
)
from app.db.models import Config
from app.db.repositories import ConfigChangeRepository, ConfigRepository
from app.db.repositories.paging import PageRequest, PlainRow, RowPage

logger = logging.getLogger(__name__)

Clock = Callable[[], float]


def valid_overrides(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored values that override a runtime setting. Keys of no runtime setting, and
    values that no longer fit one (stored by hand, or before its bounds changed), are ignored."""
    overrides = {}
    for key, value in stored.items():
        setting = RUNTIME_SETTINGS.get(key)
        if setting is None:
            continue
        try:
            overrides[key] = setting.validate(value)
        except InvalidSettingError as error:
            logger.warning("ignoring the stored override of %s", error)
    return overrides


class RuntimeSettings:
    """One process's view of the runtime settings, read again at most every `ttl` seconds."""

    def __init__(self, base: Settings, *, clock: Clock = time.monotonic) -> None:
        self.base = base
        self.ttl = base.runtime_settings_cache_seconds
        self.clock = clock
        self._effective: Settings | None = None
        self._fresh_until = -math.inf
        self._generation = 0  # moved by invalidate(): a read begun before it is not kept

    async def effective(self, session: AsyncSession) -> Settings:
        """The settings with the current overrides applied."""
        if self._effective is not None and self.clock() < self._fresh_until:
            return self._effective
        generation, read_at, stale_until = self._generation, self.clock(), self._fresh_until
        # Requests arriving during the read keep the copy they have rather than read too.
        self._fresh_until = read_at + self.ttl
        try:
            overrides = valid_overrides(await ConfigRepository(session).stored_values())
        except BaseException:
            self._fresh_until = stale_until
            raise
        effective = self.base.model_copy(update=overrides)
        if generation == self._generation:
            self._effective = effective
        return effective

    def invalidate(self) -> None:
        """Forget the copy: the next request reads the overrides again."""
        self._generation += 1
        self._effective = None
        self._fresh_until = -math.inf


SettingState = Literal["default", "environment", "override", "ignored"]


@dataclass(frozen=True, slots=True)
class SettingView:
    """What an administrator sees of one key. `source` is `ignored` for a stored key that
    names no runtime setting; an `override` with another source was ignored (it does not fit)."""

    key: str
    value: Any
    source: SettingState
    default: Any
    override: Any
    description: str
    json_schema: dict[str, Any] | None
    updated_at: datetime | None


def view_of(setting: RuntimeSetting, base: Settings, entry: Config | None) -> SettingView:
    override = None if entry is None else entry.value
    value, source = setting.started_with(base), setting.source_without_override(base)
    applied = valid_overrides({setting.name: override}) if entry is not None else {}
    if applied:
        value, source = applied[setting.name], "override"
    return SettingView(
        key=setting.name,
        value=value,
        source=source,
        default=setting.started_with(base),
        override=override,
        description=setting.description,
        json_schema=setting.json_schema(),
        updated_at=None if entry is None else entry.updated_at,
    )


def ignored_view(entry: Config) -> SettingView:
    return SettingView(
        key=entry.key,
        value=entry.value,
        source="ignored",
        default=None,
        override=entry.value,
        description="Not a runtime setting: nothing reads it. Delete it to tidy up.",
        json_schema=None,
        updated_at=entry.updated_at,
    )


async def describe_settings(
    session: AsyncSession, base: Settings, page: PageRequest
) -> RowPage[SettingView]:
    """A page of every runtime setting in the registry's order, then the stored keys that are
    none."""
    entries = {entry.key: entry for entry in await ConfigRepository(session).entries()}
    views = [view_of(s, base, entries.get(s.name)) for s in RUNTIME_SETTINGS.values()]
    views += [ignored_view(e) for key, e in entries.items() if key not in RUNTIME_SETTINGS]
    shown = views[page.offset : page.offset + page.limit]
    return RowPage.read(shown, len(views), page)


async def describe_setting(session: AsyncSession, base: Settings, key: str) -> SettingView:
    """One key's view; UnknownSettingError when it is neither a runtime setting nor stored."""
    entry = await ConfigRepository(session).get_by_id(key)
    if key in RUNTIME_SETTINGS:
        return view_of(RUNTIME_SETTINGS[key], base, entry)
    if entry is None:
        raise UnknownSettingError(key)
    return ignored_view(entry)


async def set_override(
    session: AsyncSession, base: Settings, key: str, value: Any, changed_by: UUID
) -> SettingView:
    """Override a runtime setting and record the change, in the caller's transaction.
    UnknownSettingError or InvalidSettingError, naming the key, when it does not fit."""
    setting = runtime_setting(key)
    checked = setting.validate(value)
    config = ConfigRepository(session)
    await config.lock_key(key)
    old_value = await config.get_value(key)
    entry = await config.set_value(key, checked)
    await ConfigChangeRepository(session).record(key, old_value, checked, changed_by)
    return view_of(setting, base, entry)


async def remove_override(session: AsyncSession, key: str, changed_by: UUID) -> bool:
    """Return the key to its default and record it, in the caller's transaction; False when
    nothing is stored under it."""
    config = ConfigRepository(session)
    await config.lock_key(key)
    old_value = await config.get_value(key)
    if old_value is None or not await config.delete(key):
        return False
    await ConfigChangeRepository(session).record(key, old_value, None, changed_by)
    return True


async def setting_history(session: AsyncSession, key: str, page: PageRequest) -> RowPage[PlainRow]:
    """The key's changes, newest first; UnknownSettingError for a key with no setting and no
    history."""
    changes = await ConfigChangeRepository(session).history(key, page)
    if key not in RUNTIME_SETTINGS and changes.total == 0:
        raise UnknownSettingError(key)
    return changes
