from app.services.login_throttle import FailureThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_blocks_after_the_limit_until_the_window_passes() -> None:
    clock = FakeClock()
    throttle = FailureThrottle(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("ada") is None
        throttle.record_failure("ada")
        clock.now += 1

    assert throttle.retry_after("ada") == 57
    assert throttle.retry_after("grace") is None
    clock.now += 57
    assert throttle.retry_after("ada") is None


def test_reset_forgets_the_failures() -> None:
    throttle = FailureThrottle(limit=1, window=60, clock=FakeClock())
    throttle.record_failure("ada")
    assert throttle.retry_after("ada") == 60
    throttle.reset("ada")
    assert throttle.retry_after("ada") is None
