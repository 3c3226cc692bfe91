"""A token bucket per API key: `rate` tokens a second refill up to `capacity`."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from src.config import settings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


class TokenBucket:
    """Admit bursts up to `capacity` and a steady `rate` of requests a second after that."""

    def __init__(self, rate: float, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        self.rate = rate
        self.capacity = capacity
        self.clock = clock
        self.tokens = float(capacity)
        self.updated = clock()
        self._lock = asyncio.Lock()

    @classmethod
    def per_minute(cls, limit: int | None = None, clock: Callable[[], float] = time.monotonic) -> TokenBucket:
        """Make the bucket for `limit` requests a minute (default: the configured limit), bursting to a tenth of it."""
        limit = settings.rate_limit_per_minute if limit is None else limit
        return cls(limit / 60, max(1, limit // 10), clock)

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def try_acquire(self, tokens: int = 1) -> bool:
        """Take `tokens` now if the bucket holds them."""
        if tokens > self.capacity:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.capacity}")
        self._refill()
        if self.tokens >= tokens:
            self.tokens -= tokens
            return True
        return False

    def wait_time(self, tokens: int = 1) -> float:
        """Seconds until `tokens` are available."""
        self._refill()
        return max(0.0, (tokens - self.tokens) / self.rate)

    async def acquire(self, tokens: int = 1, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> float:
        """Wait until `tokens` can be taken, take them, and return how long the caller waited (by `clock`)."""
        start = self.clock()
        async with self._lock:
            while not self.try_acquire(tokens):
                await sleep(self.wait_time(tokens))
        return self.clock() - start
