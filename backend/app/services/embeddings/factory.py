"""The embedding provider the settings ask for, and the offline models this package ships."""

from functools import cache
from typing import get_args

from app.core.config import OfflineEmbeddingModel, Settings
from app.services.embeddings.base import EmbeddingProvider
from app.services.embeddings.http import HttpEmbeddingProvider


def build_embedding_provider(settings: Settings) -> EmbeddingProvider:
    """An OpenAI-compatible server when EMBEDDING_BASE_URL is set, else the offline model
    OFFLINE_EMBEDDING_MODEL names."""
    if settings.embedding_base_url:
        return HttpEmbeddingProvider(settings)
    # Imported here: loading an offline model is only paid for when it is the one chosen.
    if settings.offline_embedding_model == "all-minilm-l6-v2":
        from app.services.embeddings.offline import OfflineEmbeddings

        return OfflineEmbeddings()
    from app.services.embeddings.multilingual import MultilingualEmbeddings

    return MultilingualEmbeddings()


OFFLINE_MODELS: tuple[OfflineEmbeddingModel, ...] = get_args(OfflineEmbeddingModel)


@cache
def offline_provider(name: OfflineEmbeddingModel) -> EmbeddingProvider:
    """The offline model of that name, one per process (it loads on first use): for searching
    the vectors of a model used before, while a new model's are being embedded."""
    return build_embedding_provider(Settings(offline_embedding_model=name))
