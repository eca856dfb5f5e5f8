"""The one settings object: every tunable value comes from the environment or `.env`."""

import ipaddress
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import parse_qsl, urlencode

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

BACKEND_DIR = Path(__file__).resolve().parents[2]
# Upper bounds of the limits on costly work (settings and per-user overrides alike).
MAX_REQUESTS_LIMIT = 1_000_000
MAX_TOKENS_LIMIT = 10**12

# What most settings are: a whole number of at least one (or zero), a length of time (seconds,
# or hours) longer than zero (or zero too), or a limit on costly work (0 = no limit) on requests
# in a window, or on tokens or words.
AtLeastOne = Annotated[int, Field(ge=1)]
AtLeastZero = Annotated[int, Field(ge=0)]
Duration = Annotated[float, Field(gt=0)]
DurationOrZero = Annotated[float, Field(ge=0)]
RequestsLimit = Annotated[int, Field(ge=0, le=MAX_REQUESTS_LIMIT)]
TokensLimit = Annotated[int, Field(ge=0, le=MAX_TOKENS_LIMIT)]


# The query options of a PostgreSQL URL that asyncpg takes (SQLAlchemy hands each to
# asyncpg.connect() by name), and libpq's names for them.
_ASYNCPG_OPTIONS = frozenset(
    {"host", "port", "user", "password", "database"}
    | {"ssl", "target_session_attrs", "passfile", "krbsrvname", "gsslib"}
    | {"prepared_statement_cache_size"}
)
_LIBPQ_SPELLINGS = {"sslmode": "ssl", "dbname": "database"}


def to_asyncpg_url(url: str) -> str:
    """Accept the usual PostgreSQL URL spellings and name the asyncpg driver explicitly; libpq's
    `sslmode` (as managed services give it) becomes asyncpg's `ssl`, and an option asyncpg has
    no use for is refused by name rather than failing the first connection."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            location, _, query = url.removeprefix(prefix).partition("?")
            return "postgresql+asyncpg://" + location + _asyncpg_query(query)
    raise ValueError(
        f"DATABASE_URL must be a PostgreSQL URL, got scheme of {url.split(':', 1)[0]!r}"
    )


def _asyncpg_query(query: str) -> str:
    if not query:
        return ""
    options = [(_LIBPQ_SPELLINGS.get(name, name), value) for name, value in parse_qsl(query)]
    unknown = sorted({name for name, _ in options} - _ASYNCPG_OPTIONS)
    if unknown:
        understood = ", ".join(sorted(_ASYNCPG_OPTIONS | set(_LIBPQ_SPELLINGS)))
        raise ValueError(
            f"DATABASE_URL: the option(s) {', '.join(unknown)} cannot be passed to the asyncpg "
            f"driver; those understood are {understood}"
        )
    return "?" + urlencode(options)


# Who may create an account: anyone, holders of an administrator's invitation, or nobody.
SignupMode = Literal["open", "invitation", "closed"]

# The embedding models that ship inside wheels (app/services/embeddings/).
OfflineEmbeddingModel = Literal["multilingual-e5-small", "all-minilm-l6-v2"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # None means "start the embedded PostgreSQL": see app/db/embedded.py.
    database_url: SecretStr | None = None
    db_pool_size: AtLeastOne = 20
    db_max_overflow: AtLeastZero = 10
    # The separate autocommit pool behind read_only() sessions.
    db_read_pool_size: AtLeastOne = 10
    db_pool_pre_ping: bool = True
    db_pool_timeout_seconds: Duration = 30.0
    # How long opening a connection may take before the request is answered 503.
    db_connect_timeout_seconds: Duration = 5.0
    db_statement_timeout_ms: AtLeastZero = 30_000
    db_echo: bool = False
    # DATABASE_URL names PgBouncer in transaction pooling mode: app/db/session.py says what changes.
    db_pgbouncer: bool = False

    embedded_pg_dir: Path = BACKEND_DIR / ".data" / "postgres"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "info"
    # FastAPI's OpenTelemetry traces, metrics and logs, sent to the providers the OTEL_*
    # variables configure. Off: checking for them cost every request ~3 % of its CPU.
    telemetry_enabled: bool = False
    # Server processes `make run` starts (uvicorn workers), one per core unless told otherwise.
    # Everything they share lives in PostgreSQL, so any number can run side by side.
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        validation_alias=AliasChoices("workers", "web_concurrency"),
    )
    # How long a stopping server waits for requests still running (a body still arriving, an
    # answer or a progress stream) before it cancels them: without a bound, one client keeps it
    # from stopping at all. Under the 10 s a container gets between SIGTERM and SIGKILL.
    shutdown_grace_seconds: int = Field(default=8, ge=0, le=3600)

    # HTTP
    cors_origins: list[str] = Field(default_factory=list)
    max_request_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # Addresses (or networks) of the reverse proxies whose X-Forwarded-For and X-Forwarded-Proto
    # are believed (app/main.py). None by default: a server reached directly must not let its
    # clients choose the address they are counted by.
    trusted_proxies: list[str] = Field(default_factory=list)

    # Accounts
    session_ttl_hours: Duration = 7 * 24
    password_min_length: int = Field(default=10, ge=8)
    password_max_length: int = Field(default=256, ge=16)
    # Argon2id cost (argon2-cffi's defaults: RFC 9106's low-memory profile).
    argon2_time_cost: AtLeastOne = 3
    argon2_memory_cost_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: AtLeastOne = 4
    # Login throttling (app/services/login_throttle.py; the counters live in PostgreSQL, shared by
    # every process). Per email from one client address, and per client address whatever the
    # email: past the allowance, each attempt must come base * 2^k seconds (capped) after the one
    # before it, or is refused with 429. Those counters restart a window after their first attempt.
    login_backoff_after_failures: AtLeastOne = 5
    login_client_backoff_after_failures: AtLeastOne = 30
    login_backoff_base_seconds: Duration = 1.0
    login_backoff_max_seconds: Duration = 15 * 60
    login_failure_window_seconds: Duration = 6 * 3600
    # Per email from every address: past this many wrong passwords in its window, an address that
    # has itself failed for the email waits for the window to end; other addresses are still let in.
    login_email_failure_ceiling: AtLeastOne = 50
    login_email_ceiling_window_seconds: Duration = 3600
    # Sign-up (app/services/signup.py): who may, and how many accounts one client address may
    # create per hour (0 = no limit), counted in PostgreSQL before any password is hashed.
    signup_mode: SignupMode = "open"
    signup_per_address_per_hour: RequestsLimit = 10
    invitation_ttl_hours: float = Field(default=7 * 24, gt=0, le=365 * 24)

    # Limits on costly work, per user (app/services/usage_limits.py; 0 = no limit). Counted in
    # PostgreSQL, so every process and replica shares them; administrators override them per user.
    limit_asks_per_minute: RequestsLimit = 20
    limit_drafts_per_minute: RequestsLimit = 10
    # Links to fetch, caption uploads and stored transcripts together.
    limit_ingests_per_hour: RequestsLimit = 60
    # Language-model tokens (prompt and completion, from the usage ledger) per UTC day.
    limit_tokens_per_day: TokensLimit = 1_000_000
    limit_searches_per_minute: RequestsLimit = 60
    # Test pings and deliveries sent again to webhook endpoints: each is traffic to a URL the
    # user chose.
    limit_webhook_tests_per_hour: RequestsLimit = 10
    # Words of transcript a user's library may hold in all (a quota, not a rate).
    limit_stored_words: TokensLimit = 5_000_000

    # Conversations and transcripts
    message_max_chars: AtLeastOne = 2_000
    chunk_tokens: int = Field(default=700, ge=16, le=8192)
    chunk_overlap: float = Field(default=0.2, ge=0, lt=1)
    tokenizer_encoding: str = "cl100k_base"

    # Ingestion jobs
    jobs_enabled: bool = True  # run ingest workers inside the API process
    job_workers: AtLeastZero = 1
    job_poll_seconds: Duration = 2.0
    job_heartbeat_seconds: Duration = 15.0
    job_stale_seconds: Duration = 120.0
    job_max_attempts: AtLeastOne = 5
    # An embed job works this long, then goes back to the queue behind the jobs waiting, until
    # its transcript is embedded: one long transcript does not hold a worker from everyone else.
    job_embed_slice_seconds: Duration = 10.0
    job_retry_base_seconds: DurationOrZero = 10.0
    job_retry_max_seconds: DurationOrZero = 600.0
    ingest_languages: list[str] = Field(default_factory=lambda: ["en"])
    # Collections (app/services/collections.py): the most videos one listing of a playlist or a
    # channel takes (its newest, for a channel), and the least time between two
    # collection.progress webhook events of one collection.
    collection_max_videos: int = Field(default=50, ge=1, le=500)
    collection_progress_event_seconds: DurationOrZero = 10.0

    # Webhooks (app/services/webhooks/): deliveries are sent by a background loop beside the
    # job workers, never on the request path.
    webhook_senders: AtLeastZero = 1  # delivery loops per process that runs jobs
    webhook_poll_seconds: Duration = 1.0
    webhook_connect_timeout_seconds: Duration = 5.0
    webhook_read_timeout_seconds: Duration = 10.0
    webhook_max_attempts: AtLeastOne = 8
    webhook_retry_base_seconds: DurationOrZero = 30.0
    webhook_retry_max_seconds: DurationOrZero = 6 * 3600
    # Failed attempts in a row (any of the endpoint's deliveries) that disable an endpoint.
    webhook_disable_after_failures: AtLeastOne = 20
    # Off, endpoints must be https:// (the body is signed, not encrypted).
    webhook_allow_http: bool = False
    # Private, loopback, link-local and other non-public addresses are refused unless this is
    # on (a development machine, or tests with a local receiver): see webhooks/addresses.py.
    webhook_allow_private_addresses: bool = False
    # The ports an endpoint's URL may name (or imply: 443 for https, 80 for http). Others would
    # let a webhook probe services that listen beside a public web server.
    webhook_allowed_ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(
        default_factory=lambda: [443, 80], min_length=1
    )
    webhook_max_endpoints_per_user: AtLeastOne = 20
    # Fernet keys that encrypt the signing secrets at rest (app/services/webhooks/secrets.py):
    # the first encrypts, all decrypt. Rotate by putting a new key first, running
    # `python -m app.cli encrypt-webhook-secrets`, then dropping the old one. None given, a key
    # is made once in the key file: enough for one machine, lost with its disk.
    webhook_secret_keys: list[SecretStr] = Field(default_factory=list)
    webhook_secret_key_file: Path = BACKEND_DIR / ".data" / "webhook-secret.key"

    # Retrieval and chat
    search_max_results: int = Field(default=50, ge=1, le=200)
    search_default_limit: int = Field(default=10, ge=1, le=50)
    chat_context_chunks: int = Field(default=5, ge=1, le=50)
    chat_history_messages: int = Field(default=10, ge=0, le=100)
    # Whether the videos answer a question (app/services/retrieval/ranking.py, `Ranking`): the best
    # passage's similarity in meaning, or without vectors its share of the question's words.
    answer_min_similarity: float = Field(default=0.25, ge=0, le=1)
    # ...and how far above the model's everyday level: how close a question comes, on average,
    # to everyday sentences (app/services/embeddings/background.py).
    answer_min_margin: float = Field(default=0.073, ge=0, le=1)
    answer_min_coverage: float = Field(default=0.4, ge=0, le=1)

    # The settings administrators may change at run time (app/core/runtime_settings.py) are
    # read again from the database at most this often by each process.
    runtime_settings_cache_seconds: float = Field(default=5.0, gt=0, le=300)

    # Language model: an OpenAI-compatible server when LLM_BASE_URL is set, else offline.
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = Field(default="gpt-4o-mini", min_length=1, max_length=200)
    llm_temperature: float = Field(default=0.2, ge=0, le=2)
    llm_max_tokens: int = Field(default=800, ge=1, le=128_000)
    llm_connect_timeout_seconds: Duration = 5.0
    llm_timeout_seconds: Duration = 60.0
    llm_max_retries: AtLeastZero = 3
    llm_retry_base_seconds: DurationOrZero = 0.5

    # Embeddings: an OpenAI-compatible /embeddings API when EMBEDDING_BASE_URL is set, else the
    # offline model. Requests use the LLM_* timeouts and retries.
    embeddings_enabled: bool = True
    # The model run in-process when no embedding server is set: multilingual-e5-small finds
    # passages across languages; all-MiniLM-L6-v2 is English only, and faster.
    offline_embedding_model: OfflineEmbeddingModel = "multilingual-e5-small"
    embedding_base_url: str | None = None
    embedding_api_key: SecretStr | None = None
    embedding_model: str = Field(default="text-embedding-3-small", min_length=1, max_length=150)
    # The vector length: sent as `dimensions` and checked on every answer; None takes the
    # length of the first answer.
    embedding_dimensions: int | None = Field(default=None, ge=1, le=4000)
    embedding_batch_size: int = Field(default=64, ge=1, le=2048)
    # For models trained with prefixes, e.g. "query: " / "passage: " (e5), "search_query: " /
    # "search_document: " (nomic-embed-text).
    embedding_query_prefix: str = ""
    embedding_passage_prefix: str = ""

    @model_validator(mode="after")
    def _login_backoff_fits_in_its_window(self) -> Self:
        # A window shorter than the longest wait would restart the count before the wait is over.
        if self.login_failure_window_seconds < self.login_backoff_max_seconds:
            raise ValueError(
                "LOGIN_FAILURE_WINDOW_SECONDS must be at least LOGIN_BACKOFF_MAX_SECONDS "
                f"({self.login_failure_window_seconds} < {self.login_backoff_max_seconds})"
            )
        return self

    @model_validator(mode="after")
    def _a_job_is_stale_only_after_heartbeats_missed(self) -> Self:
        # Stale before two heartbeats are missed, a job still worked on is taken over by a
        # second worker, and both do it at once.
        if self.job_stale_seconds <= 2 * self.job_heartbeat_seconds:
            raise ValueError(
                "JOB_STALE_SECONDS must be more than twice JOB_HEARTBEAT_SECONDS "
                f"({self.job_stale_seconds} <= 2 x {self.job_heartbeat_seconds})"
            )
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_as_networks(cls, proxies: list[str]) -> list[str]:
        # uvicorn's reader takes an entry it cannot parse for a host name, which never matches:
        # a typo would trust nobody, silently. "10.0.0.1" becomes "10.0.0.1/32".
        try:
            return [str(ipaddress.ip_network(proxy.strip(), strict=False)) for proxy in proxies]
        except ValueError as error:
            raise ValueError(f"TRUSTED_PROXIES: {error}") from error

    @field_validator("database_url", mode="before")
    @classmethod
    def _normalise_database_url(cls, value: object) -> object:
        if isinstance(value, str) and value.strip():
            return to_asyncpg_url(value.strip())
        if isinstance(value, str):
            return None
        return value

    def require_database_url(self) -> str:
        """The asyncpg URL to connect to; an error that says how to get one when it is unset."""
        if self.database_url is None:
            raise RuntimeError(
                "DATABASE_URL is not set: export it, or start the service with `make run`, "
                "which starts the embedded PostgreSQL and sets it."
            )
        return self.database_url.get_secret_value()

    def with_database_url(self, url: str) -> Self:
        """These settings, naming the database at `url` (any spelling to_asyncpg_url accepts)."""
        return self.model_copy(update={"database_url": SecretStr(to_asyncpg_url(url))})


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_or_exit() -> Settings:
    """The environment's settings for a command starting (`make run`, the worker, the CLI), or
    exit 2 with one line per wrong setting. The value is never repeated: a DATABASE_URL or a
    base URL may hold a password, which pydantic's own message would print."""
    try:
        return get_settings()
    except ValidationError as error:
        for problem in error.errors(include_input=False, include_url=False):
            name = "_".join(str(part) for part in problem["loc"]).upper() or "settings"
            print(f"error: {name}: {problem['msg']}", file=sys.stderr)
        raise SystemExit(2) from None
