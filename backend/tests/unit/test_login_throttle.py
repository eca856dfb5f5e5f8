"""The throttle's arithmetic: backoff waits, what counts as one client, and the README's figures."""

from datetime import UTC, datetime, timedelta

import pytest

from app.core.config import Settings
from app.db.models import LoginFailureScope
from app.db.repositories import FailureCount
from app.services.login_throttle import Backoff, LoginAttempt, client_network

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def just_counted(failures: int, seconds_after_previous: float | None) -> FailureCount:
    previous = None if seconds_after_previous is None else T0
    last = T0 + timedelta(seconds=seconds_after_previous or 0)
    return FailureCount(
        LoginFailureScope.EMAIL_CLIENT, failures, last, previous, T0 + timedelta(hours=6)
    )


def test_waits_start_after_the_allowance_then_double_up_to_the_cap() -> None:
    backoff = Backoff(allowance=3, base=2.0, cap=20.0)
    assert [backoff.wait_after(n) for n in range(1, 9)] == [0, 0, 2, 4, 8, 16, 20, 20]


def test_a_huge_count_does_not_overflow() -> None:
    assert Backoff(allowance=1, base=1.0, cap=900.0).wait_after(10**9) == 900.0


def test_an_attempt_within_the_allowance_is_never_too_soon() -> None:
    backoff = Backoff(allowance=3, base=60.0, cap=900.0)
    assert backoff.retry_after(just_counted(1, None)) is None
    assert backoff.retry_after(just_counted(3, 0)) is None
    # Even when concurrent statements read the clock out of order.
    assert backoff.retry_after(just_counted(3, -0.5)) is None


def test_past_the_allowance_an_attempt_must_wait_for_the_one_before() -> None:
    backoff = Backoff(allowance=3, base=60.0, cap=900.0)
    # The 4th attempt must come 60 s after the 3rd; too soon, it counts and the next waits 120 s.
    assert backoff.retry_after(just_counted(4, 59.9)) == 120
    assert backoff.retry_after(just_counted(4, 60)) is None
    assert backoff.retry_after(just_counted(5, 119)) == 240


@pytest.mark.parametrize(
    ("host", "counted_as"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:1:2:3", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("", ""),
        ("testclient", "testclient"),
    ],
)
def test_ipv6_clients_count_per_64(host: str, counted_as: str) -> None:
    assert client_network(host) == counted_as


def test_keys_are_digests_of_the_normalised_email() -> None:
    attempt = LoginAttempt.of("  Ada@Example.COM ", "203.0.113.9")
    assert attempt == LoginAttempt.of("ada@example.com", "203.0.113.9")
    keys = {attempt.key(scope) for scope in LoginFailureScope}
    assert len(keys) == 3
    assert all(len(key) == 64 and "ada" not in key for key in keys)


def guesses_checked(backoff: Backoff, window: float, horizon: float) -> int:
    """An attacker on one email from one address who retries the moment it is allowed."""
    now = window_start = 0.0
    failures = checked = 0
    while now < horizon:
        if now >= window_start + window:
            window_start, failures = now, 0
        failures += 1
        checked += 1
        now += backoff.wait_after(failures)
    return checked


def test_the_readme_figures_for_one_email_from_one_address() -> None:
    settings = Settings(_env_file=None)
    backoff = Backoff(
        settings.login_backoff_after_failures,
        settings.login_backoff_base_seconds,
        settings.login_backoff_max_seconds,
    )
    window = settings.login_failure_window_seconds
    hour = 3600.0

    assert guesses_checked(backoff, window, 1) == 5
    assert guesses_checked(backoff, window, hour) == 17
    assert guesses_checked(backoff, window, 2 * hour) == 21
    assert guesses_checked(backoff, window, 24 * hour) == 148
