import math
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from pydantic import Field, computed_field, field_validator

from app.api.schemas.common import (
    EXAMPLE_ID,
    EXAMPLE_TIME,
    OrmModel,
    RequestBody,
    VideoIdOrUrl,
    example,
)


class IngestRequest(RequestBody):
    model_config = example(video="https://youtu.be/dQw4w9WgXcQ", languages=["en", "de"])

    video: VideoIdOrUrl = Field(examples=["https://youtu.be/dQw4w9WgXcQ?t=42"])
    languages: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description='Caption languages in order of preference, e.g. ["de", "en"].',
    )

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for code in value:
                if not 2 <= len(code) <= 10 or not code.replace("-", "").isalnum():
                    raise ValueError(f"not a language code: {code!r}")
        return value


class JobPublic(OrmModel):
    model_config = example(
        id=EXAMPLE_ID,
        kind="youtube_ingest",
        youtube_video_id="dQw4w9WgXcQ",
        languages=["en"],
        status="done",
        attempts=1,
        max_attempts=5,
        error=None,
        error_code=None,
        transcript_id="9b2e4c1a-7d3f-4e8b-a6c5-0f1d2e3a4b5c",
        run_after=EXAMPLE_TIME,
        started_at=EXAMPLE_TIME,
        finished_at="2026-03-14T09:26:58Z",
        created_at=EXAMPLE_TIME,
        updated_at="2026-03-14T09:26:58Z",
    )

    id: UUID
    kind: Literal["youtube_ingest", "embed"]
    youtube_video_id: str
    languages: list[str]
    status: Literal["queued", "running", "done", "failed"]
    attempts: int = Field(description="Attempts so far, the running one included.")
    max_attempts: int
    error: str | None = Field(
        description="Why the job failed and what to do instead (e.g. upload the captions), or "
        "why its last attempt failed while it waits for the next one."
    )
    error_code: str | None = Field(
        description="`error` for programs. Failed at once, retrying cannot help: "
        "`network_unreachable` (this server cannot reach YouTube), `no_captions`, "
        "`video_unavailable`, `blocked` (YouTube refuses this server), `unreadable_answer`. "
        "Retried with backoff: `timeout`, `connection_lost`, `rate_limited` (HTTP 429), "
        "`upstream_error` (HTTP 5xx). Embed jobs: `embedding_failed`. Either kind: "
        "`interrupted` (its worker stopped too often).",
        examples=["network_unreachable"],
    )
    transcript_id: UUID | None
    run_after: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @computed_field(  # type: ignore[prop-decorator]
        description="While a failed attempt waits to be retried: when the next one is due."
    )
    @property
    def next_attempt_at(self) -> datetime | None:
        return self.run_after if self.status == "queued" and self.attempts > 0 else None

    @computed_field(  # type: ignore[prop-decorator]
        description="Seconds until `next_attempt_at` (0 once due), when a retry is waiting."
    )
    @property
    def retry_in_seconds(self) -> int | None:
        due = self.next_attempt_at
        if due is None:
            return None
        return max(0, math.ceil((due - datetime.now(UTC)).total_seconds()))
