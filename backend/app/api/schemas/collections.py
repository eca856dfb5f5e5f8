from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator, model_validator

from app.api.schemas.common import (
    EXAMPLE_ID,
    EXAMPLE_TIME,
    NameText,
    OrmModel,
    RequestBody,
    example,
)
from app.services.youtube.links import parse_video_id

# Links a request may list itself (a playlist or a channel is capped by COLLECTION_MAX_VIDEOS).
MAX_LISTED_VIDEOS = 500


class CollectionCreate(RequestBody):
    model_config = example(
        url="https://www.youtube.com/playlist?list=PLBCF2DAC6FFB574DE", name="Course"
    )

    url: str | None = Field(
        default=None,
        max_length=2048,
        description="A playlist or channel link (`/playlist?list=…`, `/@handle`, "
        "`/channel/UC…`); or give `videos` instead.",
    )
    videos: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LISTED_VIDEOS,
        description="Video links or ids, in the collection's order (instead of `url`).",
    )
    name: NameText | None = Field(
        default=None,
        description="The collection's name; the playlist's or channel's title when left out.",
    )

    @field_validator("videos")
    @classmethod
    def _video_ids(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [parse_video_id(video) for video in value]

    @model_validator(mode="after")
    def _one_source(self) -> "CollectionCreate":
        if (self.url is None) == (self.videos is None):
            raise ValueError("give either url (a playlist or channel) or videos (a list)")
        return self


class CollectionRename(RequestBody):
    model_config = example(name="The whole course")

    name: NameText


class ProgressPublic(BaseModel):
    model_config = example(total=50, done=31, failed=2, pending=17, ready=False, eta_seconds=70)

    total: int
    done: int = Field(description="Videos whose transcript is stored (searchable).")
    failed: int = Field(description="Videos that could not be fetched; see each video's reason.")
    pending: int = Field(description="Videos queued or being fetched.")
    ready: bool = Field(description="True once nothing is pending.")
    eta_seconds: int | None = Field(
        description="About how long until nothing is pending, from this collection's finished "
        "videos; null when ready."
    )


class CollectionVideoPublic(OrmModel):
    video_id: str
    title: str | None
    duration_seconds: int | None = Field(
        description="The video's length as the playlist or channel listed it; null when unknown."
    )
    status: Literal["done", "failed", "pending"]
    reason: str | None = Field(description="Why it failed (private, deleted, no captions …).")
    error_code: str | None
    transcript_id: UUID | None
    job_id: UUID | None


EXAMPLE_COLLECTION = {
    "id": EXAMPLE_ID,
    "name": "Course",
    "kind": "playlist",
    "source_url": "https://www.youtube.com/playlist?list=PLBCF2DAC6FFB574DE",
    "listing_error": None,
    "listing_truncated": False,
    "refreshed_at": EXAMPLE_TIME,
    "created_at": EXAMPLE_TIME,
    "progress": {
        "total": 2,
        "done": 1,
        "failed": 0,
        "pending": 1,
        "ready": False,
        "eta_seconds": 8,
    },
}
EXAMPLE_VIDEOS = [
    {
        "video_id": "dQw4w9WgXcQ",
        "title": "Lesson 1",
        "duration_seconds": 213,
        "status": "done",
        "reason": None,
        "error_code": None,
        "transcript_id": EXAMPLE_ID,
        "job_id": EXAMPLE_ID,
    },
    {
        "video_id": "9bZkp7q19f0",
        "title": "Lesson 2",
        "duration_seconds": 1530,
        "status": "pending",
        "reason": None,
        "error_code": None,
        "transcript_id": None,
        "job_id": EXAMPLE_ID,
    },
]


class CollectionPublic(OrmModel):
    model_config = example(**EXAMPLE_COLLECTION)

    id: UUID
    name: str
    kind: Literal["playlist", "channel", "videos"]
    source_url: str | None
    listing_error: str | None = Field(
        description="Why the last listing stopped before its end (the videos listed stay)."
    )
    listing_truncated: bool = Field(
        description="The source held more videos than one listing takes (COLLECTION_MAX_VIDEOS)."
    )
    refreshed_at: datetime
    created_at: datetime
    progress: ProgressPublic


class CollectionDetail(CollectionPublic):
    model_config = example(**EXAMPLE_COLLECTION, videos=EXAMPLE_VIDEOS)

    videos: list[CollectionVideoPublic] = Field(description="In the collection's order.")


class RefreshResult(BaseModel):
    added: int = Field(description="Videos new to the collection.")
    queued: int = Field(description="Of those, the ones queued to be fetched.")
    collection: CollectionDetail
