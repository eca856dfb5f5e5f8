"""Language models behind one small interface.

- `OpenAICompatibleModel`: chat completions over httpx; works with OpenAI, OpenRouter, Ollama,
  vLLM and anything else speaking that API; streams; retries 429 and 5xx with backoff.
- `OfflineExtractiveModel`: the default with no server configured. It does not generate: it
  quotes the retrieved passages that best match the question, with their citation numbers.
"""

import asyncio
import copy
import json
import re
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from app.core.config import Settings
from app.services.chunking import count_tokens
from app.services.extract import Passage, best_sentences
from app.services.language import question_language
from app.services.openai_http import RetryingPoster, UpstreamError, api_client
from app.services.wording import words_in


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class Delta:
    text: str


@dataclass(frozen=True, slots=True)
class Finished:
    usage: Usage


StreamEvent = Delta | Finished


class LanguageModelError(UpstreamError):
    """The model could not answer (after retries)."""

    def public_message(self) -> str:
        """What a user is told: the HTTP status at most. The rest is in the server's log."""
        if self.status is None:
            return "The language model failed."
        return f"The language model failed (HTTP {self.status})."


class LanguageModel(Protocol):
    provider: str
    model: str
    # True when the model quotes sentences chosen beforehand (Passage.quotes) rather than
    # writing: the chat chooses them by meaning only for such a model.
    extractive: bool

    async def complete(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> Completion: ...

    def stream(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> AsyncGenerator[StreamEvent, None]: ...


def storable(text: str) -> str:
    """A model's text without NUL characters, which PostgreSQL's text refuses: an answer
    holding one could not be stored."""
    return text.replace("\x00", "")


def _text(content: object) -> str:
    """A model server's content: what is not text (a null) is no text."""
    return content if isinstance(content, str) else ""


def estimate_usage(messages: Sequence[ChatMessage], answer: str, encoding: str) -> Usage:
    prompt = sum(count_tokens(message.content, encoding) for message in messages)
    return Usage(prompt_tokens=prompt, completion_tokens=count_tokens(answer, encoding))


class OpenAICompatibleModel:
    provider = "openai-compatible"
    extractive = False

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        assert settings.llm_base_url is not None
        self.model = settings.llm_model
        self.settings = settings
        self.client = client or api_client(settings.llm_base_url, settings.llm_api_key, settings)
        self.poster = RetryingPoster(
            self.client, settings, subject="the language model", error_type=LanguageModelError
        )

    def configured(self, settings: Settings) -> "OpenAICompatibleModel":
        """This model with another name, temperature and token limit, on the same client."""
        if (settings.llm_model, settings.llm_temperature, settings.llm_max_tokens) == (
            self.model,
            self.settings.llm_temperature,
            self.settings.llm_max_tokens,
        ):
            return self
        configured = copy.copy(self)
        configured.model = settings.llm_model
        configured.settings = settings
        return configured

    async def aclose(self) -> None:
        await self.client.aclose()

    def _payload(self, messages: Sequence[ChatMessage], *, stream: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": self.settings.llm_temperature,
            "max_tokens": self.settings.llm_max_tokens,
        }
        if stream:
            payload["stream"] = True
            payload["stream_options"] = {"include_usage": True}
        return payload

    async def complete(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> Completion:
        response = await self.poster.post(
            "chat/completions", self._payload(messages, stream=False), stream=False
        )
        try:
            data = response.json()
            text = _text(data["choices"][0]["message"]["content"])
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise LanguageModelError("the language model's answer could not be read") from error
        usage = await asyncio.to_thread(self._usage, data.get("usage"), messages, text)
        return Completion(text=text, usage=usage)

    async def stream(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> AsyncGenerator[StreamEvent, None]:
        response = await self.poster.post(
            "chat/completions", self._payload(messages, stream=True), stream=True
        )
        parts: list[str] = []
        usage_data: dict[str, Any] | None = None
        try:
            async for line in response.aiter_lines():
                data = _sse_data(line)
                if data is None:
                    continue
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                usage_data = chunk.get("usage") or usage_data
                for choice in chunk.get("choices") or []:
                    piece = _text((choice.get("delta") or {}).get("content"))
                    if piece:
                        parts.append(piece)
                        yield Delta(piece)
        except (httpx.HTTPError, json.JSONDecodeError) as error:
            raise LanguageModelError(f"the language model's stream broke off: {error}") from error
        finally:
            await response.aclose()
        yield Finished(await asyncio.to_thread(self._usage, usage_data, messages, "".join(parts)))

    def _usage(
        self, data: dict[str, Any] | None, messages: Sequence[ChatMessage], text: str
    ) -> Usage:
        if data and "prompt_tokens" in data and "completion_tokens" in data:
            return Usage(int(data["prompt_tokens"]), int(data["completion_tokens"]))
        # Some servers send no usage: count it ourselves rather than record nothing.
        return estimate_usage(messages, text, self.settings.tokenizer_encoding)


def _sse_data(line: str) -> str | None:
    if not line.startswith("data:"):
        return None
    return line[len("data:") :].strip()


# The offline answerer's name in the usage ledger: its tokens are an estimate of what a model
# would have read and written, recorded for the record and counted against no daily limit.
OFFLINE_PROVIDER = "offline-extractive"


class OfflineExtractiveModel:
    """Answers by quoting the 1 to 3 sentences of the passages chosen for the question by
    meaning and words (Passage.quotes), best first; without them, those sharing the most words
    with the question."""

    provider = OFFLINE_PROVIDER
    model = "extractive-v2"
    extractive = True
    max_sentences = 3

    def __init__(self, settings: Settings) -> None:
        self.encoding = settings.tokenizer_encoding

    def answer(
        self, question: str, passages: Sequence[Passage], language: str | None = None
    ) -> str:
        """The quotes, headed in `language` (the question's: question_language)."""
        chosen = sorted(
            (quote for passage in passages for quote in passage.quotes), key=lambda q: -q.score
        )
        quoted = [(q.number, q.text) for q in chosen[: self.max_sentences]] or best_sentences(
            question, passages, self.max_sentences
        )
        lines = "\n".join(f"- {sentence} [{number}]" for number, sentence in quoted)
        return f"{words_in(language).quoted}\n{lines}"

    async def complete(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> Completion:
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        language = await asyncio.to_thread(question_language, question)
        text = self.answer(question, passages, language)
        # Counting tokens over a prompt of up to 64 KiB is CPU work: off the event loop.
        usage = await asyncio.to_thread(estimate_usage, messages, text, self.encoding)
        return Completion(text=text, usage=usage)

    async def stream(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> AsyncGenerator[StreamEvent, None]:
        completion = await self.complete(messages, passages)
        for piece in re.findall(r"\S+\s*", completion.text):
            yield Delta(piece)
            await asyncio.sleep(0)  # let the server send each piece
        yield Finished(completion.usage)


def with_settings(model: LanguageModel, settings: Settings) -> LanguageModel:
    """The model as the (runtime) settings configure it; models with nothing to configure as
    they are."""
    if isinstance(model, OpenAICompatibleModel):
        return model.configured(settings)
    return model


def build_language_model(settings: Settings) -> LanguageModel:
    if settings.llm_base_url:
        return OpenAICompatibleModel(settings)
    return OfflineExtractiveModel(settings)
