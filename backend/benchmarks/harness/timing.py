"""Where a call's time goes: the SQL statements an engine sends (by a label given to each), the
statements themselves for EXPLAIN, and the pauses of Python's garbage collector."""

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
        seconds = time.perf_counter() - conn.info["bench_started"].pop()
        label = self.classify(statement)
        self.seconds[label] += seconds
        if self.call is not None:
            self.call[label] += seconds

    @contextmanager
    def listening(self, engine: AsyncEngine) -> Iterator["StatementTimer"]:
        event.listen(engine.sync_engine, "before_cursor_execute", self.before)
        event.listen(engine.sync_engine, "after_cursor_execute", self.after)
        try:
            yield self
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", self.before)
            event.remove(engine.sync_engine, "after_cursor_execute", self.after)

    @contextmanager
    def recording(self) -> Iterator[dict[str, float]]:
        self.call = defaultdict(float)
        try:
            yield self.call
        finally:
            self.call = None


@contextmanager
def statements_sent(engine: AsyncEngine, marker: str = "") -> Iterator[list[tuple[str, Any]]]:
    """The SQL and driver-level parameters of the statements containing `marker`."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Connection, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if marker in statement:
            sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@contextmanager
def gc_pauses() -> Iterator[list[tuple[int, float]]]:
    """(generation, seconds) of each pause of Python's cyclic garbage collector in the block,
    whichever thread it happened in."""
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
