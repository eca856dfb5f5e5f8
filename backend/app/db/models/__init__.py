"""The tables, as typed SQLAlchemy 2.0 mappings, one module per area.

The migrations in `alembic/versions/` own the schema; these mappings must describe exactly the
same thing (`alembic check` proves it in the tests). DATABASE_SCHEMA.md explains every choice.

Importing the package imports every module, so that `Base.metadata` holds every table (Alembic
compares against it) and relationships named across modules resolve. Every name is re-exported
here: callers import from `app.db.models`, not from the area modules.
"""

from app.db.models.accounts import (
    EMAIL_PATTERN,
    ApiKey,
    ApiKeyScope,
    Invitation,
    LoginFailure,
    LoginFailureScope,
    Session,
    User,
)
from app.db.models.base import (
    NAMING_CONVENTION,
    Base,
    created_at,
    jsonb_metadata,
    owner_fk,
    updated_at,
    uuid_pk,
)
from app.db.models.collections import COLLECTION_KINDS, Collection, CollectionVideo
from app.db.models.config import Config, ConfigChange
from app.db.models.conversations import (
    MESSAGE_ROLES,
    TEMPLATE_TYPES,
    Conversation,
    Message,
    Template,
)
from app.db.models.jobs import JOB_KINDS, JOB_STATUSES, Job
from app.db.models.library import (
    CHAPTER_SOURCES,
    SEARCH_CONFIG,
    Chapter,
    Chunk,
    Passage,
    PassageEmbedding,
    Transcript,
)
from app.db.models.usage import (
    USAGE_KINDS,
    LimitedAction,
    TokenReservation,
    UsageCounter,
    UsageEvent,
    UserLimit,
)
from app.db.models.webhooks import (
    WEBHOOK_DELIVERY_STATUSES,
    WEBHOOK_EVENTS,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "CHAPTER_SOURCES",
    "COLLECTION_KINDS",
    "EMAIL_PATTERN",
    "JOB_KINDS",
    "JOB_STATUSES",
    "MESSAGE_ROLES",
    "NAMING_CONVENTION",
    "SEARCH_CONFIG",
    "TEMPLATE_TYPES",
    "USAGE_KINDS",
    "WEBHOOK_DELIVERY_STATUSES",
    "WEBHOOK_EVENTS",
    "ApiKey",
    "ApiKeyScope",
    "Base",
    "Chapter",
    "Chunk",
    "Collection",
    "CollectionVideo",
    "Config",
    "ConfigChange",
    "Conversation",
    "Invitation",
    "Job",
    "LimitedAction",
    "LoginFailure",
    "LoginFailureScope",
    "Message",
    "Passage",
    "PassageEmbedding",
    "Session",
    "Template",
    "TokenReservation",
    "Transcript",
    "UsageCounter",
    "UsageEvent",
    "User",
    "UserLimit",
    "WebhookDelivery",
    "WebhookEndpoint",
    "created_at",
    "jsonb_metadata",
    "owner_fk",
    "updated_at",
    "uuid_pk",
]
