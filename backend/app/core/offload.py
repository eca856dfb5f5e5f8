"""CPU-heavy work kept off the event loop.

Two kinds of work, two pools:
- `run_in_process`: pure-Python work (caption parsing, chunking) holds the GIL, so a thread
  would still starve the event loop; it runs in a pool of worker processes. Send and return
  strings and small lists: pickling tens of thousands of small objects costs the loop as much
  as the work itself.
- `run_in_thread`: C code that releases the GIL (Argon2 hashing) runs in a thread pool sized to
  the cores, which also bounds how many hashes (64 MiB each) run at once.

Both pools run their work at a lower scheduling priority than the event loop (niceness +10):
on a busy machine the kernel then gives a core to the loop thread, whose work comes in short
bursts, before a hash or a parse that takes tens of milliseconds to seconds, rather than
sharing it with them equally. The loop's requests stay fast; the offloaded work finishes a
little later only when the cores are short.

Both pools start on first use and are shut down by `shutdown_pools()` (the app's lifespan).
A pool process ends with the process that started it, however that one ends: joined by
`shutdown_pools()` on a graceful stop, on its own when its parent dies without one (SIGKILL, a
uvicorn worker killed as hung). Left running, it would also keep the multiprocessing resource
tracker alive, which ends only when the last process holding its pipe does.
"""

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

CPU_WORKERS = max(1, len(os.sched_getaffinity(0)))
BACKGROUND_NICENESS = 10
# What a terminal (Ctrl-C) or a service manager sends to a whole process group: the pool's
# processes leave them to the process that started them.
PARENTS_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})

_processes: ProcessPoolExecutor | None = None
_threads: ThreadPoolExecutor | None = None


def start_pool_process() -> None:
    """A worker process's initializer: run below the event loop, leave Ctrl-C and SIGTERM to
    the parent (a terminal sends SIGINT to the whole process group, a service manager often
    SIGTERM; the parent stops its pool once its requests are done, and a parse ended under a
    request answered it with a 500), and end when the parent does."""
    os.nice(BACKGROUND_NICENESS)
    for signum in PARENTS_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    # Held since the process was started (signals_held_while_starting_processes): one that came
    # while Python was starting is pending, and is now let through to be ignored.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, PARENTS_SIGNALS)
    threading.Thread(target=exit_with_the_parent, name="parent-watch", daemon=True).start()


@contextlib.contextmanager
def signals_held_while_starting_processes() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM in this thread while it may start pool processes, which inherit
    what it holds: a process starting takes a few hundred milliseconds before its initializer
    can set them aside, and one ended by Ctrl-C then (the first upload's parse, pressed at
    once) broke the pool, answering the upload with a 500. This process gets them once the
    block ends."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, PARENTS_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def exit_with_the_parent() -> None:
    """Wait for the parent's end, then end this process. A pool process waits for work on a
    pipe that it holds open itself, so it would never see its parent go: the parent's sentinel
    (a pipe only the parent writes to) does. `os._exit`, since `sys.exit` in a thread ends
    only the thread, and nobody is left to take this process's results."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
    os._exit(0)


def lower_thread_priority() -> None:
    """A worker thread's initializer: run below the event loop. Linux keeps a niceness per
    thread (and threads inherit it, as Argon2's own lane threads do); elsewhere it is the
    process's, which includes the loop, so it is left alone there."""
    if sys.platform == "linux":
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + BACKGROUND_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, niceness)


def _process_pool() -> ProcessPoolExecutor:
    global _processes
    if _processes is None:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        context = multiprocessing.get_context("spawn")
        _processes = ProcessPoolExecutor(
            max_workers=CPU_WORKERS, mp_context=context, initializer=start_pool_process
        )
    return _processes


def _thread_pool() -> ThreadPoolExecutor:
    global _threads
    if _threads is None:
        _threads = ThreadPoolExecutor(
            max_workers=CPU_WORKERS, thread_name_prefix="cpu", initializer=lower_thread_priority
        )
    return _threads


async def _run(
    executor: Executor, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs
) -> R:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, partial(function, *args, **kwargs))


async def run_in_process(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a module-level function in a worker process; its exceptions are raised here."""
    loop = asyncio.get_running_loop()
    # The pool starts its processes as work is submitted, within run_in_executor's call.
    with signals_held_while_starting_processes():
        result = loop.run_in_executor(_process_pool(), partial(function, *args, **kwargs))
    return await result


async def run_in_thread(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run GIL-releasing work in the bounded CPU thread pool."""
    return await _run(_thread_pool(), function, *args, **kwargs)


def shutdown_pools() -> None:
    """Cancel the queued work and stop both pools. The pool processes are joined before this
    returns: a uvicorn worker process ends by raising the signal that stopped it again, with
    the default action, at once, while the pool's own thread may not yet have told its
    processes to stop. Threads end with their process and are not waited for."""
    global _processes, _threads
    if _processes is not None:
        _processes.shutdown(wait=True, cancel_futures=True)
        _processes = None
    if _threads is not None:
        _threads.shutdown(wait=False, cancel_futures=True)
        _threads = None
