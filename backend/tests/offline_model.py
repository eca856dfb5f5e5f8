"""One offline embedding model per test process.

The app keeps one embedding provider for its process; the tests build many apps in one process,
and each would load the ONNX model again (one to four seconds) on its first search. Every app
and test that wants the offline model shares this one instead. A provider configured to call an
HTTP server is still built from the settings, per app.
"""

from functools import cache

from app.core.config import Settings
from app.services.chunk_embeddings import Embedder
from app.services.embeddings.base import EmbeddingProvider
from app.services.embeddings.factory import build_embedding_provider
from app.services.embeddings.offline import OfflineEmbeddings


@cache
def offline_model() -> OfflineEmbeddings:
    return OfflineEmbeddings()


def provider_for(settings: Settings) -> EmbeddingProvider:
    if settings.embedding_base_url:
        return build_embedding_provider(settings)
    return offline_model()


def embedder_for(settings: Settings) -> Embedder:
    """What create_app() gives an app, with the offline model shared by the process."""
    return Embedder(settings, factory=provider_for)
