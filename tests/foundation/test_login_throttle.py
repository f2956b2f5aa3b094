"""The sign-in form's count of wrong tokens, on a clock the test moves."""

from __future__ import annotations

from opencx_salesforce.devhost.login_throttle import LoginThrottle


def test_an_address_waits_for_its_oldest_failure_to_leave_the_window() -> None:
    now = [100.0]
    throttle = LoginThrottle(allowed=3, window=60.0, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait_for("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
        now[0] += 1
    assert throttle.wait_for("10.0.0.1") == 57.0  # at 103: the first failure leaves at 160
    assert throttle.wait_for("10.0.0.2") == 0  # another address is not held
    now[0] = 160.5
    assert throttle.wait_for("10.0.0.1") == 0
    throttle.failed("10.0.0.1")
    throttle.succeeded("10.0.0.1")  # the right token clears the count
    assert throttle.wait_for("10.0.0.1") == 0
