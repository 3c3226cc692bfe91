import random

import pytest
from src.retry import RetryPolicy


def test_delays_grow_exponentially_up_to_the_cap():
    policy = RetryPolicy(max_attempts=8, base_delay=0.5, multiplier=2.0, max_delay=10.0)
    assert [policy.delay(attempt) for attempt in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_jitter_only_shortens_delays_and_is_reproducible_with_a_seed():
    policy = RetryPolicy(base_delay=4.0, max_delay=4.0, jitter=0.25)
    first = [policy.delay(1, random.Random(3)) for _ in range(3)]
    assert first == [policy.delay(1, random.Random(3))] * 3
    delays = [policy.delay(1, random.Random(seed)) for seed in range(200)]
    assert all(3.0 <= delay <= 4.0 for delay in delays)
    assert len(set(delays)) > 100


@pytest.mark.parametrize(
    ("attempt", "status", "retry"),
    [
        (1, None, True),
        (1, 503, True),
        (1, 429, True),
        (1, 400, False),
        (1, 404, False),
        (4, 503, True),
        (5, 503, False),
    ],
)
def test_only_transient_failures_are_retried_and_only_up_to_max_attempts(attempt, status, retry):
    assert RetryPolicy(max_attempts=5).should_retry(attempt, status) is retry


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"max_attempts": 0}, "at least 1"),
        ({"base_delay": -1}, "0 <= base_delay"),
        ({"base_delay": 5, "max_delay": 1}, "base_delay <= max_delay"),
        ({"jitter": 1.5}, "between 0 and 1"),
    ],
)
def test_nonsensical_policies_are_refused(kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        RetryPolicy(**kwargs)
