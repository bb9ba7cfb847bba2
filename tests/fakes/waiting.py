"""Polling with a deadline, for tests that watch what other processes do."""
import time


def wait_for(condition, timeout, interval=0.05):
    """Calls `condition` every `interval` s until it returns something true, and returns that.
    After `timeout` s it returns what one last call returns (false when it never held)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()
