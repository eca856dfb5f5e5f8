"""How every benchmark runs: on uvloop when it is installed (as uvicorn runs the app), with
SIGTERM treated like Ctrl-C, so that the finally blocks stop the servers and drop the databases."""

import asyncio
import signal
import sys
import warnings
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def run_benchmark(benchmark: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """The benchmark's result; exit status 130 when interrupted, after the clean-up."""
    # The embedded server is stopped at exit, outside start_embedded_postgres's own filter.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return run(benchmark())
    except KeyboardInterrupt:
        print("Interrupted: the servers are stopped and the databases dropped.", file=sys.stderr)
        sys.exit(130)
