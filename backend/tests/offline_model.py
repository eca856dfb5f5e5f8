"""One offline embedding model per test process.

The app keeps one embedding provider for its process; the tests build many apps in one process,
and each would load the ONNX model again (one to four seconds) on its first search. Every app
and test that wants the offline model shares this one instead. A provider configured to call an
HTTP server is still built from the settings, per app.
"""

from app.core.config import OfflineEmbeddingModel, Settings
from app.services.embeddings.base import EmbeddingProvider
from app.services.embeddings.factory import build_embedding_provider, offline_provider
from app.services.passage_embeddings import Embedder


def offline_model(
    name: OfflineEmbeddingModel = Settings.model_fields["offline_embedding_model"].default,
) -> EmbeddingProvider:
    """The offline model of that name (OFFLINE_EMBEDDING_MODEL), loaded once per process: the
    same instance retrieval searches an earlier model's vectors with."""
    return offline_provider(name)


def provider_for(settings: Settings) -> EmbeddingProvider:
    if settings.embedding_base_url:
        return build_embedding_provider(settings)
    return offline_model(settings.offline_embedding_model)


def embedder_for(settings: Settings) -> Embedder:
    """What create_app() gives an app, with the offline model shared by the process."""
    return Embedder(settings, factory=provider_for)
