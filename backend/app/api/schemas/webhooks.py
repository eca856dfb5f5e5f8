from datetime import datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import AfterValidator, Field, model_validator

from app.api.schemas.common import OrmModel, RequestBody, example
from app.db.models import WEBHOOK_EVENTS

WebhookEvent = Literal[
    "job.succeeded", "job.failed", "transcript.ready", "collection.progress", "collection.ready"
]

EVENTS_NOTE = (
    "`job.succeeded` and `job.failed`: a job (ingest or embed) finished; "
    "`transcript.ready`: a transcript's vectors are in (it is searchable by meaning); "
    "`collection.progress`: a collection's video was fetched or failed (at most every "
    "COLLECTION_PROGRESS_EVENT_SECONDS); `collection.ready`: none of its videos is pending."
)
URL_NOTE = (
    "An https:// URL (http:// only where the server allows it) whose host resolves to public "
    "addresses only; no user name or password, no #fragment."
)


def distinct(events: list[WebhookEvent]) -> list[WebhookEvent]:
    if len(set(events)) != len(events):
        raise ValueError("must not name an event twice")
    return events


Events = Annotated[
    list[WebhookEvent],
    Field(min_length=1, max_length=len(WEBHOOK_EVENTS), description=EVENTS_NOTE),
    AfterValidator(distinct),
]
Url = Annotated[
    str,
    Field(
        min_length=1, max_length=2048, description=URL_NOTE, examples=["https://example.com/hooks"]
    ),
]


class WebhookCreate(RequestBody):
    model_config = example(
        url="https://hooks.example.com/youtube-talker", events=["transcript.ready", "job.failed"]
    )

    url: Url
    events: Events


class WebhookUpdate(RequestBody):
    model_config = example(enabled=True)

    url: Url | None = None
    events: Events | None = None
    enabled: bool | None = Field(
        strict=True,
        default=None,
        description="true turns a disabled endpoint on again (its failure count restarts); "
        "false stops deliveries to it.",
    )


# Long enough for a receiver's deployment to take the new secret; short enough that a leaked
# secret replaced by a rotation stops signing within days.
MAX_OVERLAP_SECONDS = 7 * 24 * 3600


class WebhookSecretRotation(RequestBody):
    model_config = example(overlap_seconds=3600)

    overlap_seconds: int = Field(
        strict=True,
        default=86_400,
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        description="How long the secret being replaced still signs deliveries beside the new "
        "one (a second signature in `webhook-signature`), for the receiver to switch over; 0 "
        "ends it at once. At most a week.",
    )


class WebhookPublic(OrmModel):
    id: UUID
    url: str
    events: list[WebhookEvent]
    enabled: bool
    disabled_reason: str | None = Field(description="Why the endpoint is off, when it is.")
    consecutive_failures: int = Field(description="Failed attempts in a row, reset by a success.")
    previous_secret_expires_at: datetime | None = Field(
        description="After a secret rotation: until when the previous secret signs beside the "
        "new one."
    )
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="The signing secret (Standard Webhooks, `whsec_…`). Shown only in this "
        "response: store it now."
    )


class WebhookSecretRotated(WebhookPublic):
    secret: str = Field(
        description="The new signing secret (`whsec_…`). Shown only in this response: store it now."
    )


class WebhookDeliveryPublic(OrmModel):
    id: UUID = Field(description="Sent as the `webhook-id` header, the same on every attempt.")
    event_type: WebhookEvent | Literal["webhook.test"]
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_response_code: int | None = Field(description="The HTTP status of the last answer.")
    last_error: str | None = Field(description="Why the last attempt failed, if it did.")
    next_attempt_at: datetime | None = Field(description="When a pending delivery is sent next.")
    payload: dict[str, Any] = Field(description="The body sent: `type`, `timestamp`, `data`.")
    created_at: datetime
    delivered_at: datetime | None

    @model_validator(mode="after")
    def _next_attempt_only_while_pending(self) -> Self:
        if self.status != "pending":
            self.next_attempt_at = None
        return self
