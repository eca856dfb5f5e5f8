"""The interface every embedding provider implements.

Passages (chunks) and queries are embedded by separate calls because retrieval models such as
e5 and bge expect a different prefix or instruction for each side. Every stored vector records
`model_name`, so vectors of two models are never compared.
"""

from collections.abc import Sequence
from typing import Protocol

from app.services.openai_http import UpstreamError


class EmbeddingError(UpstreamError):
    """A provider could not embed: unreachable, refused, or answered with the wrong shape."""


class EmbeddingProvider(Protocol):
    @property
    def model_name(self) -> str:
        """Recorded beside each vector: vectors of different models are never mixed."""
        ...

    @property
    def dimension(self) -> int:
        """The length of each vector this provider returns."""
        ...

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order. Never truncates silently: a text longer
        than the model's window is embedded in windows whose vectors are combined."""
        ...

    async def embed_query(self, text: str) -> list[float]:
        """The vector of a search question."""
        ...

    async def aclose(self) -> None:
        """Release clients or pools."""
        ...
