"""The wait between attempts of a job: exponential, capped, half of it random."""

from datetime import timedelta

import pytest

from app.core.config import Settings
from app.services.job_retries import JobFailure, backoff

SETTINGS = Settings(job_retry_base_seconds=10, job_retry_max_seconds=600, _env_file=None)


@pytest.mark.parametrize(
    ("attempt", "shortest", "longest"),
    [(1, 5, 10), (2, 10, 20), (3, 20, 40), (4, 40, 80), (7, 300, 600), (30, 300, 600)],
)
def test_the_wait_doubles_up_to_the_cap_and_half_of_it_is_random(
    attempt: int, shortest: float, longest: float
) -> None:
    assert backoff(attempt, SETTINGS, lambda: 0.0) == timedelta(seconds=shortest)
    assert backoff(attempt, SETTINGS, lambda: 1.0) == timedelta(seconds=longest)
    assert timedelta(seconds=shortest) <= backoff(attempt, SETTINGS) <= timedelta(seconds=longest)


def test_jobs_failing_together_come_back_apart() -> None:
    waits = {backoff(3, SETTINGS) for _ in range(20)}

    assert len(waits) > 1


def test_a_failure_without_a_way_out_is_its_reason_alone() -> None:
    failure = JobFailure("embedding_failed", "the embedding server answered HTTP 503", True)

    assert failure.message() == "the embedding server answered HTTP 503"
    assert failure.message("it failed again") == "it failed again"
