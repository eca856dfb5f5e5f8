"""The registry of runtime settings: derived from Settings, and documented in the README."""

import re

import pytest

from app.core.config import BACKEND_DIR, Settings, get_settings
from app.core.runtime_settings import (
    RUNTIME_SETTINGS,
    InvalidSettingError,
    UnknownSettingError,
    runtime_setting,
)
from app.services.llm import OfflineExtractiveModel, OpenAICompatibleModel, with_settings

README = BACKEND_DIR.parent / "README.md"


def readme_rows() -> dict[str, str]:
    """The rows of the README's table of runtime settings, by key."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Runtime settings", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \|(.*)$", section, re.MULTILINE)
    return dict(rows)


def test_the_readme_lists_every_runtime_setting_with_its_bounds() -> None:
    rows = readme_rows()
    assert list(rows) == list(RUNTIME_SETTINGS)
    for key, setting in RUNTIME_SETTINGS.items():
        schema = setting.json_schema()
        for bound in ("minimum", "maximum", "exclusiveMaximum", "minLength", "maxLength"):
            if bound in schema:
                assert re.search(rf"\b{schema[bound]}\b", rows[key]), (key, bound)


def test_each_key_is_a_settings_field_checked_strictly() -> None:
    assert set(RUNTIME_SETTINGS) <= set(Settings.model_fields)
    setting = runtime_setting("chat_context_chunks")
    assert setting.validate(8) == 8
    with pytest.raises(InvalidSettingError, match="chat_context_chunks"):
        setting.validate("8")
    with pytest.raises(UnknownSettingError, match="database_url"):
        runtime_setting("database_url")  # read once at start-up: not a runtime setting


def test_the_default_is_what_the_process_started_with() -> None:
    started = get_settings().model_copy(update={"llm_temperature": 0.7})
    setting = runtime_setting("llm_temperature")
    assert setting.started_with(started) == 0.7
    assert setting.source_without_override(started) == "environment"
    assert runtime_setting("llm_max_tokens").source_without_override(Settings()) == "default"


async def test_a_language_model_takes_the_runtime_settings() -> None:
    settings = get_settings().model_copy(update={"llm_base_url": "http://127.0.0.1:1/v1"})
    model = OpenAICompatibleModel(settings)
    await model.aclose()
    assert with_settings(model, settings) is model
    changed = settings.model_copy(update={"llm_model": "other", "llm_max_tokens": 9})
    configured = with_settings(model, changed)
    assert isinstance(configured, OpenAICompatibleModel)
    payload = configured._payload([], stream=False)
    assert (payload["model"], payload["max_tokens"]) == ("other", 9)
    assert configured.client is model.client
    assert model._payload([], stream=False)["model"] == settings.llm_model  # unchanged
    offline = OfflineExtractiveModel(settings)
    assert with_settings(offline, changed) is offline
