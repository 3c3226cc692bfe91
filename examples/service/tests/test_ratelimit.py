import pytest
from src.config import settings
from src.ratelimit import TokenBucket


def test_burst_up_to_capacity_then_refill_at_rate(clock):
    bucket = TokenBucket(rate=2.0, capacity=3, clock=clock)
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert bucket.wait_time() == pytest.approx(0.5)
    clock.advance(0.5)
    assert bucket.try_acquire()
    clock.advance(60)  # the refill stops at capacity
    assert bucket.try_acquire(3)
    assert not bucket.try_acquire()
    with pytest.raises(ValueError, match="cannot take 4 tokens"):
        bucket.try_acquire(4)


def test_per_minute_limit_comes_from_settings(clock):
    bucket = TokenBucket.per_minute(clock=clock)
    assert bucket.rate == pytest.approx(settings.rate_limit_per_minute / 60)
    assert bucket.capacity == settings.rate_limit_per_minute // 10


@pytest.mark.asyncio
async def test_acquire_waits_exactly_as_long_as_the_refill_takes(clock):
    bucket = TokenBucket(rate=4.0, capacity=2, clock=clock)
    assert await bucket.acquire(2, sleep=clock.sleep) == 0
    waited = await bucket.acquire(2, sleep=clock.sleep)
    assert waited == pytest.approx(0.5)
    assert clock.sleeps == [pytest.approx(0.5)]
