from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from app.api.schemas.common import OrmModel
from app.services.youtube import parse_video_id


class IngestRequest(BaseModel):
    video: str = Field(
        max_length=2048,
        description="A YouTube video id or any YouTube URL (watch, youtu.be, shorts, embed, live).",
        examples=["https://youtu.be/dQw4w9WgXcQ?t=42"],
    )
    languages: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description='Caption languages in order of preference, e.g. ["de", "en"].',
    )

    @field_validator("video")
    @classmethod
    def _video_id(cls, value: str) -> str:
        return parse_video_id(value)

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for code in value:
                if not 2 <= len(code) <= 10 or not code.replace("-", "").isalnum():
                    raise ValueError(f"not a language code: {code!r}")
        return value


class JobPublic(OrmModel):
    id: UUID
    kind: str
    youtube_video_id: str
    languages: list[str]
    status: Literal["queued", "running", "done", "failed"]
    attempts: int
    max_attempts: int
    error: str | None = Field(description="Why the job failed, or why its last attempt did.")
    transcript_id: UUID | None
    run_after: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
