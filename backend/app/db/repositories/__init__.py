"""One repository per model; each takes the unit of work's AsyncSession."""

from app.db.repositories.api_key import ApiKeyRepository
from app.db.repositories.chapter import ChapterRepository, NewChapter, OutlinePassage
from app.db.repositories.chunk import ChunkHit, ChunkRepository, NewChunk, PassageSpan
from app.db.repositories.collection import CollectionRepository
from app.db.repositories.config import ConfigRepository
from app.db.repositories.config_change import ConfigChangeRepository
from app.db.repositories.conversation import ConversationRepository
from app.db.repositories.invitation import InvitationRepository
from app.db.repositories.job import JobRepository
from app.db.repositories.login_failure import CounterKey, FailureCount, LoginFailureRepository
from app.db.repositories.message import MessageRepository, MessageRow
from app.db.repositories.paging import PageRequest, RowPage
from app.db.repositories.passage import NewPassage, PassageRepository, UncutChunk
from app.db.repositories.passage_embedding import (
    NearPassage,
    PassageEmbeddingRepository,
    PassageText,
)
from app.db.repositories.session import SessionRepository
from app.db.repositories.template import TemplateRepository
from app.db.repositories.token_reservation import TokenReservationRepository
from app.db.repositories.transcript import TranscriptRepository
from app.db.repositories.usage import DailyUsage, TokensToday, UsageRepository
from app.db.repositories.usage_counter import Admission, CounterWindow, UsageCounterRepository
from app.db.repositories.user import UserRepository
from app.db.repositories.user_limit import UserLimitRepository
from app.db.repositories.webhook_delivery import ClaimedDelivery, WebhookDeliveryRepository
from app.db.repositories.webhook_endpoint import StoredSecrets, WebhookEndpointRepository

__all__ = [
    "Admission",
    "ApiKeyRepository",
    "ChapterRepository",
    "ChunkHit",
    "ChunkRepository",
    "ClaimedDelivery",
    "CollectionRepository",
    "ConfigChangeRepository",
    "ConfigRepository",
    "ConversationRepository",
    "CounterKey",
    "CounterWindow",
    "DailyUsage",
    "FailureCount",
    "InvitationRepository",
    "JobRepository",
    "LoginFailureRepository",
    "MessageRepository",
    "MessageRow",
    "NearPassage",
    "NewChapter",
    "NewChunk",
    "NewPassage",
    "OutlinePassage",
    "PageRequest",
    "PassageEmbeddingRepository",
    "PassageRepository",
    "PassageSpan",
    "PassageText",
    "RowPage",
    "SessionRepository",
    "StoredSecrets",
    "TemplateRepository",
    "TokenReservationRepository",
    "TokensToday",
    "TranscriptRepository",
    "UncutChunk",
    "UsageCounterRepository",
    "UsageRepository",
    "UserLimitRepository",
    "UserRepository",
    "WebhookDeliveryRepository",
    "WebhookEndpointRepository",
]
