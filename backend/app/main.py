"""The ASGI application: `uvicorn app.main:app --no-proxy-headers` from backend/ (the app reads
forwarded addresses itself, from TRUSTED_PROXIES' proxies only); `make run` runs app/serve.py.

`create_app(settings)` builds everything from the settings it is given, its database included;
`app` is the app of the environment's settings, built when first asked for."""

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.api.docs import complete_the_document_of, install_docs
from app.api.error_handlers import install_error_handlers
from app.api.errors import error_responses
from app.api.middleware import (
    REQUEST_ID_HEADER,
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from app.api.routes import (
    api_keys,
    auth,
    collections,
    config,
    conversations,
    drafts,
    health,
    invitations,
    jobs,
    limits,
    search,
    templates,
    transcripts,
    usage,
    webhooks,
)
from app.api.routing import GetAndHeadRoute
from app.api.validation import refuse_unstorable_values
from app.core.config import Settings, get_settings
from app.core.offload import shutdown_pools
from app.db.repositories import (
    LoginFailureRepository,
    SessionRepository,
    WebhookEndpointRepository,
)
from app.db.session import Database, UnitOfWork
from app.services.background_loops import stop_loops
from app.services.chunking import get_tokenizer
from app.services.ingest_worker import start_workers
from app.services.llm import LanguageModel, OpenAICompatibleModel, build_language_model
from app.services.passage_embeddings import Embedder
from app.services.runtime_settings import RuntimeSettings
from app.services.webhooks.secrets import webhook_secrets
from app.services.webhooks.sender import start_senders
from app.services.youtube.fetcher import YouTubeFetcher
from app.services.youtube.listing import YouTubeLister
from app.web import install_web_page

API_PREFIX = "/api/v1"
PURGE_INTERVAL_SECONDS = 3600

logger = logging.getLogger(__name__)


async def purge_expired_rows_forever(unit_of_work: UnitOfWork) -> None:
    """Expired sessions and login-failure counters, and webhook secrets replaced by a rotation
    whose overlap is over, once an hour."""
    while True:
        try:
            async with unit_of_work() as session:
                sessions = await SessionRepository(session).delete_expired()
                counters = await LoginFailureRepository(session).delete_expired()
                secrets = await WebhookEndpointRepository(session).forget_ended_previous_secrets()
            logger.info(
                "purged %d expired sessions, %d login-failure counters; forgot %d webhook "
                "secrets replaced by a rotation",
                sessions,
                counters,
                secrets,
            )
        except Exception:
            logger.exception("purging expired rows failed; will try again")
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)


def start_ingest_workers(
    database: Database, embedder: Embedder | None, language_model: LanguageModel
) -> list[asyncio.Task[None]]:
    settings = database.settings
    if not settings.jobs_enabled:
        return []
    count = settings.job_workers
    workers = start_workers(database, YouTubeFetcher, settings, count, embedder, language_model)[1]
    return workers + start_senders(database.unit_of_work, settings, settings.webhook_senders)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    webhook_secrets(settings)  # a bad WEBHOOK_SECRET_KEYS stops the start, not a registration
    settings.require_database_url()  # no database named: said at the start, not per request
    database: Database = app.state.database
    # Load the tokenizer now rather than in the first transcript upload.
    await run_in_threadpool(get_tokenizer, settings.tokenizer_encoding)
    embedder: Embedder | None = app.state.embedder
    purge = purge_expired_rows_forever(database.unit_of_work)
    background = [asyncio.create_task(purge, name="purge of expired rows")]
    background += start_ingest_workers(database, embedder, app.state.language_model)
    freeze_start_up_objects()
    yield
    await stop_loops(background, logger)
    model = app.state.language_model
    if isinstance(model, OpenAICompatibleModel):
        await model.aclose()
    if embedder is not None:
        await embedder.aclose()
    await database.dispose()
    shutdown_pools()


def freeze_start_up_objects() -> None:
    """Move what start-up allocated (modules, the app, its routes: hundreds of thousands of
    objects that live as long as the process) out of the collector's sight. The oldest
    generation's collections then walk what requests leave behind only, instead of pausing
    every request for tens of milliseconds (the p99 of the hot reads fell from ~100 ms to a few
    times the median; `python -m benchmarks.http_wrk`)."""
    gc.collect()
    gc.freeze()


def version_one_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, route_class=GetAndHeadRoute)
    modules = (
        auth,
        api_keys,
        conversations,
        transcripts,
        jobs,
        search,
        drafts,
        templates,
        usage,
        limits,
        webhooks,
        config,
        invitations,
        collections,
    )
    for module in modules:
        router.include_router(module.router)
    return router


def operation_id(route: APIRoute) -> str:
    """The route function's name (`list_conversations`, `ask`): generated clients turn
    operation ids into method names, and FastAPI's default appends the path and method."""
    return route.name


TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="YouTube Talker",
        summary="Chat with YouTube transcripts and turn them into drafts.",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(refuse_unstorable_values)],
        responses=error_responses(422),
        telemetry=None if settings.telemetry_enabled else TELEMETRY_OFF,
        docs_url=None,  # served by install_docs, with local assets
        redoc_url=None,
        generate_unique_id_function=operation_id,
        # A trailing slash is a 404 saying the path without it (error_handlers): Starlette's
        # redirect named an absolute http:// URL, wrong behind a TLS proxy, and some mobile
        # clients do not follow a redirect of a POST.
        redirect_slashes=False,
    )
    app.router.route_class = GetAndHeadRoute  # for the page's route (app/web)
    app.state.settings = settings
    app.state.database = Database(settings)
    app.state.language_model = build_language_model(settings)
    app.state.runtime_settings = RuntimeSettings(settings)
    # Shared by the workers (passages) and searches (queries); its model loads on first use.
    app.state.embedder = Embedder(settings) if settings.embeddings_enabled else None
    app.state.video_lister = YouTubeLister()
    install_error_handlers(app)
    install_docs(app)
    complete_the_document_of(app)
    app.include_router(health.router)
    app.include_router(version_one_router())
    install_web_page(app)
    # Added last, runs first: security headers, then request ids, wrap everything (a 500 too).
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[REQUEST_ID_HEADER],
        )
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.trusted_proxies:
        # Outermost, so everything inside (the login throttle, HSTS) sees the client address and
        # scheme the proxy forwarded. The only reader of these headers: app/serve.py turns
        # uvicorn's own off, whatever FORWARDED_ALLOW_IPS says.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


def __getattr__(name: str) -> FastAPI:
    """`app`, for `uvicorn app.main:app`: built on first use, so that importing this module (as
    app/serve.py and the tests do) builds no app of settings nobody gave."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    built = globals()["app"] = create_app()
    return built
