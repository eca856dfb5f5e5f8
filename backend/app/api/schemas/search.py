from uuid import UUID

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    transcript_id: UUID
    youtube_video_id: str
    title: str | None
    chunk_id: UUID
    chunk_index: int
    start_seconds: float | None
    end_seconds: float | None
    url: str = Field(description="The video at the moment the chunk starts.")
    snippet: str = Field(description="The matching passage, matched words between `**`.")
    rank: float


class SearchResults(BaseModel):
    query: str
    hits: list[SearchHit]
