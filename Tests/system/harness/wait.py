"""Waiting for an event with a generous deadline: a busy machine makes a test slower, not wrong."""
import time

DEADLINE = 60.0


def wait_until(probe, timeout=DEADLINE, interval=0.1):
    """Calls probe() until it returns something truthy (returned) or timeout seconds pass (returns the last value)."""
    end = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)
