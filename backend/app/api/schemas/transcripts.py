from datetime import datetime
from typing import Any, Literal, Self
from uuid import UUID

from pydantic import AliasChoices, BaseModel, Field, field_validator, model_validator

from app.api.schemas.common import (
    EXAMPLE_ID,
    JsonObject,
    OrmModel,
    RequestBody,
    VideoIdOrUrl,
    example,
    shows_nothing,
)
from app.services.chunking import MAX_SECONDS


class SegmentIn(RequestBody):
    text: str
    start: float = Field(
        ge=0, le=MAX_SECONDS, strict=True, description="Seconds from the start of the video."
    )
    duration: float = Field(ge=0, le=MAX_SECONDS, strict=True, description="Seconds.")


class TranscriptCreate(RequestBody):
    model_config = example(
        video="https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        title="Sourdough for beginners",
        segments=[
            {"text": "Feed your starter twice a day.", "start": 0.0, "duration": 3.5},
            {"text": "Keep it somewhere warm.", "start": 3.5, "duration": 2.0},
        ],
    )

    video: VideoIdOrUrl = Field(examples=["https://www.youtube.com/watch?v=dQw4w9WgXcQ"])
    title: str | None = Field(default=None, max_length=500)
    channel_name: str | None = Field(default=None, max_length=255)
    duration: int | None = Field(
        default=None, ge=0, le=MAX_SECONDS, strict=True, description="Seconds."
    )
    transcript_text: str | None = Field(
        default=None, description="The text; give this or `segments`."
    )
    segments: list[SegmentIn] | None = Field(
        default=None, description="Timed captions; chunks then carry start and end seconds."
    )
    metadata: JsonObject = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _segments_are_the_servers(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        # The stored transcript's `metadata.segments` are its timed captions, which chapters,
        # moments and the detail view read: a value of the client's there was overwritten, or
        # read as captions.
        if "segments" in metadata:
            raise ValueError("`segments` is where timed captions are kept: send them as `segments`")
        return metadata

    @model_validator(mode="after")
    def _one_source_of_text(self) -> Self:
        if (self.transcript_text is None) == (self.segments is None):
            raise ValueError("give exactly one of transcript_text and segments")
        if shows_nothing(self.full_text()):  # zero-width characters show nothing either
            raise ValueError("the transcript is empty")
        return self

    def full_text(self) -> str:
        if self.segments is not None:
            return " ".join(segment.text.strip() for segment in self.segments)
        return self.transcript_text or ""


class TranscriptPublic(OrmModel):
    id: UUID
    youtube_video_id: str
    title: str | None
    channel_name: str | None
    duration: int | None
    language: str | None = Field(
        description="The language it is spoken in (ISO 639-1), read from its text; null when "
        "the text has no words to tell by.",
        examples=["en"],
    )
    metadata: dict[str, Any] = Field(
        validation_alias=AliasChoices("meta", "metadata"),
        description="What was stored with it, but its timed segments: every cue's words, shown "
        "by `GET /transcripts/{id}` (a list of them ran to megabytes).",
    )
    created_at: datetime

    @field_validator("metadata")
    @classmethod
    def _without_segments(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in metadata.items() if key != "segments"}


class TranscriptDetail(TranscriptPublic):
    transcript_text: str
    metadata: dict[str, Any] = Field(
        validation_alias=AliasChoices("meta", "metadata"),
        description="What was stored with it, its timed segments (`segments`) included.",
    )

    @field_validator("metadata")
    @classmethod
    def _without_segments(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        return metadata  # the one view that shows them


class TranscriptCreated(TranscriptPublic):
    """The stored transcript. `metadata` is what was sent: the timed segments are stored (and
    shown by `GET /transcripts/{id}`), not echoed back."""

    chunk_count: int


class ChunkPublic(OrmModel):
    id: UUID
    transcript_id: UUID
    chunk_index: int
    chunk_text: str
    token_count: int
    metadata: dict[str, Any] = Field(validation_alias=AliasChoices("meta", "metadata"))


class ChapterPublic(BaseModel):
    index: int
    title: str
    start_seconds: float
    end_seconds: float | None
    summary: str = Field(description="Two or three of its own sentences.")
    url: str = Field(description="The video at the chapter's start.")


class ChaptersPublic(BaseModel):
    model_config = example(
        transcript_id=EXAMPLE_ID,
        youtube_video_id="dQw4w9WgXcQ",
        source="computed",
        summary="We start the starter on Monday. Feed it twice a day until it doubles.",
        chapters=[
            {
                "index": 0,
                "title": "Starter, flour, feeding",
                "start_seconds": 0.0,
                "end_seconds": 212.5,
                "summary": "We start the starter on Monday. Feed it twice a day.",
                "url": "https://youtu.be/dQw4w9WgXcQ?t=0",
            }
        ],
    )

    transcript_id: UUID
    youtube_video_id: str
    source: Literal["description", "computed", "model"] | None = Field(
        description="The video's own chapters (`description`), found from its words "
        "(`computed`), or titled by the language model (`model`); null for a transcript "
        "without timing."
    )
    summary: str | None = Field(description="A few sentences on the whole video.")
    chapters: list[ChapterPublic]
