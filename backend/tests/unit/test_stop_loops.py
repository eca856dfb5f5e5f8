"""A server's stop ends its background loops, even one that loses a cancellation."""

import asyncio
import contextlib
import logging

import pytest

from app.services.background_loops import go_on_unless_cancelled, stop_loops

log = logging.getLogger("test.stop_loops")


async def loses_one_cancellation(stopped: asyncio.Event) -> None:
    """A loop whose first cancellation is lost, as 3.11's `wait_for` loses one."""
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        await asyncio.Event().wait()  # goes on, until cancelled again
    finally:
        stopped.set()


async def ignores_cancellation(released: asyncio.Event) -> None:
    while not released.is_set():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.01)


async def test_a_loop_that_lost_its_cancellation_is_cancelled_again() -> None:
    stopped = asyncio.Event()
    loop = asyncio.create_task(loses_one_cancellation(stopped))
    await asyncio.sleep(0)

    await stop_loops([loop], log, within=30)

    assert stopped.is_set()
    assert loop.cancelled()


async def test_a_loop_that_never_ends_is_named_and_the_stop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    released = asyncio.Event()
    stubborn = asyncio.create_task(ignores_cancellation(released), name="stubborn loop")
    finished = asyncio.create_task(asyncio.sleep(0), name="finished loop")
    await asyncio.sleep(0.05)

    async with asyncio.timeout(10):
        await stop_loops([stubborn, finished], log, within=0.3)

    assert not stubborn.done()
    assert "stopping without waiting for stubborn loop" in caplog.text
    assert "finished loop" not in caplog.text
    released.set()
    await stubborn


async def test_a_loop_that_checks_each_round_ends_on_the_cancellation_it_caught() -> None:
    """The ingest worker's loop, under load, caught its cancellation on the way and went on
    polling "cancelling": checking each round ends it at once, with no second cancellation."""
    rounds = 0

    async def polls() -> None:
        nonlocal rounds
        while True:
            go_on_unless_cancelled()
            rounds += 1
            with contextlib.suppress(asyncio.CancelledError):  # caught on the way
                await asyncio.sleep(0.01)

    loop = asyncio.create_task(polls())
    await asyncio.sleep(0.05)
    loop.cancel()

    async with asyncio.timeout(5):
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert loop.cancelled()
    assert rounds > 1
