"""Where a call's time goes: the SQL statements an engine sends (summed by a label given to
each), and the pauses of Python's garbage collector."""

import gc
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


async def timed(awaitable: Awaitable[T]) -> tuple[T, float]:
    """What `awaitable` gives, and the seconds it took."""
    started = time.perf_counter()
    result = await awaitable
    return result, time.perf_counter() - started


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@contextmanager
def listening(engine: AsyncEngine, name: str, listener: Callable[..., None]) -> Iterator[None]:
    event.listen(engine.sync_engine, name, listener)
    try:
        yield
    finally:
        event.remove(engine.sync_engine, name, listener)


class StatementTimer:
    """Wall time of the statements an engine sends while listening (round trips included),
    summed by the label `classify` gives each; and per call, inside `recording()`."""

    def __init__(self, classify: Callable[[str], str]) -> None:
        self.classify = classify
        self.seconds: dict[str, float] = defaultdict(float)
        self.call: dict[str, float] | None = None

    def before(self, conn: Connection, *_: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(self, conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        seconds, label = (
            time.perf_counter() - conn.info["bench_started"].pop(),
            self.classify(statement),
        )
        self.seconds[label] += seconds
        if self.call is not None:
            self.call[label] += seconds

    @contextmanager
    def listening(self, engine: AsyncEngine) -> Iterator["StatementTimer"]:
        with (
            listening(engine, "before_cursor_execute", self.before),
            listening(engine, "after_cursor_execute", self.after),
        ):
            yield self

    @contextmanager
    def recording(self) -> Iterator[dict[str, float]]:
        self.call = defaultdict(float)
        try:
            yield self.call
        finally:
            self.call = None


@contextmanager
def gc_pauses() -> Iterator[list[tuple[int, float]]]:
    """(generation, seconds) of each pause of the cyclic garbage collector in the block, in
    whichever thread."""
    pauses: list[tuple[int, float]] = []
    started = time.perf_counter()

    def on_collection(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - started))

    gc.callbacks.append(on_collection)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(on_collection)


def pause_seconds(pauses: Sequence[tuple[int, float]]) -> float:
    return sum(seconds for _, seconds in pauses)
