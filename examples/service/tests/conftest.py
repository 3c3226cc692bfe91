"""Shared fixtures. The service reads its settings from the environment, in tests as in production."""

import asyncio

import pytest
import pytest_asyncio
from src.config import settings
from src.jobs.queue import JobQueue


@pytest.fixture(scope="session")
def event_loop():
    """One event loop for the whole run, so that session fixtures and tests share it (pytest-asyncio 0.21)."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest_asyncio.fixture(scope="session")
async def job_queue():
    """One running job queue for the whole session: starting workers for every test is slow in CI."""
    queue = JobQueue(concurrency=2)
    await queue.start()
    yield queue
    await queue.stop()


@pytest.fixture
def jwt_secret():
    return settings.jwt_secret


class FakeClock:
    """A clock that moves only when told to; its `sleep` advances it instead of waiting."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()
