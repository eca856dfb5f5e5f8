"""The settings administrators may change at run time, without a redeploy.

Each is a field of `Settings` (app/core/config.py): its type and bounds are the field's own, its
default is the value the process was started with (environment, `.env` or the field's default),
and an administrator's override (`PUT /api/v1/config/{key}`, stored in the `config` table) takes
its place in every process within `RUNTIME_SETTINGS_CACHE_SECONDS`
(app/services/runtime_settings.py). Adding one is one `runtime(...)` line below.

Settings read once at start-up (pools, addresses, secrets) are not listed: changing them at run
time would change nothing, or would need to rebuild what they built.
"""

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, TypeAdapter, ValidationError

from app.core.config import Settings

SettingSource = Literal["default", "environment", "override"]


class UnknownSettingError(LookupError):
    """The key names no runtime setting."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key!r} is not a runtime setting; known: {', '.join(RUNTIME_SETTINGS)}")
        self.key = key


class InvalidSettingError(ValueError):
    """The value does not fit the setting's type or bounds."""

    def __init__(self, key: str, error: ValidationError) -> None:
        self.key = key
        self.problems = [problem["msg"] for problem in error.errors()]
        super().__init__(f"{key}: {'; '.join(self.problems)}")


@dataclass(frozen=True, slots=True)
class RuntimeSetting:
    """One key: the Settings field it overrides, checked strictly (8 is an integer, "8" is not)."""

    name: str
    description: str
    adapter: TypeAdapter[Any]

    def validate(self, value: Any) -> Any:
        """The value as the setting's type; InvalidSettingError naming the key otherwise."""
        try:
            return self.adapter.validate_python(value)
        except ValidationError as error:
            raise InvalidSettingError(self.name, error) from None

    def json_schema(self) -> dict[str, Any]:
        """Its type and bounds as JSON Schema, e.g. {"type": "integer", "minimum": 1}."""
        return self.adapter.json_schema()

    def started_with(self, settings: Settings) -> Any:
        """The value the process was started with: the default an override replaces."""
        return getattr(settings, self.name)

    def source_without_override(self, settings: Settings) -> SettingSource:
        return "environment" if self.name in settings.model_fields_set else "default"


_STRICT = ConfigDict(strict=True)


def runtime(name: str, description: str) -> RuntimeSetting:
    """A runtime setting named after a Settings field, with that field's type and bounds."""
    field = Settings.model_fields[name]
    field_type: Any = field.annotation
    if field.metadata:
        field_type = Annotated[(field.annotation, *field.metadata)]
    return RuntimeSetting(name, description, TypeAdapter(field_type, config=_STRICT))


RUNTIME_SETTINGS: dict[str, RuntimeSetting] = {
    setting.name: setting
    for setting in (
        runtime("chat_context_chunks", "Excerpts retrieved for each chat question and draft."),
        runtime("chat_history_messages", "Earlier messages of the conversation in the prompt."),
        runtime(
            "answer_min_similarity",
            "A question is answerable when its best passage is at least this close in meaning.",
        ),
        runtime(
            "answer_min_margin",
            "...and at least this much above the model's closeness to unrelated sentences.",
        ),
        runtime(
            "answer_min_coverage",
            "Without vectors: answerable when the best passage holds this share of its words.",
        ),
        runtime("llm_model", "The language model's name, sent to the OpenAI-compatible server."),
        runtime("llm_temperature", "The language model's sampling temperature."),
        runtime("llm_max_tokens", "The most tokens the language model may write in one answer."),
        runtime("chunk_tokens", "Tokens per chunk of transcripts stored from now on."),
        runtime("chunk_overlap", "Share of each chunk repeated in the next, for new transcripts."),
        runtime("search_default_limit", "Hits a search returns when it names no limit."),
        runtime("search_max_results", "The most hits a search returns, whatever it asks for."),
        runtime("limit_asks_per_minute", "Questions a user may ask per minute (0: no limit)."),
        runtime("limit_drafts_per_minute", "Drafts a user may request per minute (0: no limit)."),
        runtime("limit_ingests_per_hour", "Videos and uploads a user may add per hour (0: none)."),
        runtime("limit_tokens_per_day", "Model tokens a user may use per UTC day (0: no limit)."),
        runtime("limit_searches_per_minute", "Searches a user may run per minute (0: no limit)."),
        runtime(
            "limit_webhook_tests_per_hour",
            "Webhook test pings and redeliveries a user may send per hour (0: none).",
        ),
        runtime("limit_stored_words", "Words of transcript a user may store in all (0: no limit)."),
        runtime("signup_mode", "Who may sign up: open, invitation (an administrator's) or closed."),
        runtime("signup_per_address_per_hour", "Accounts one address may open per hour (0: any)."),
    )
}


def runtime_setting(key: str) -> RuntimeSetting:
    """The setting under key; UnknownSettingError naming it otherwise."""
    try:
        return RUNTIME_SETTINGS[key]
    except KeyError:
        raise UnknownSettingError(key) from None
