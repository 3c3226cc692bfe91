"""The ``event_loop`` fixtures testfloor provides when the loop plan asks for one."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest_asyncio.fixture
async def event_loop() -> asyncio.AbstractEventLoop:
    """Return the loop the test runs in: pytest-asyncio 1.0 removed this fixture; old tests still ask for it."""
    return asyncio.get_running_loop()


def scoped_event_loop(scope: str) -> object:
    """Return a plugin whose ``event_loop`` fixture has `scope`: how pytest-asyncio 0.21 shares one loop."""

    def event_loop(self: object) -> Iterator[asyncio.AbstractEventLoop]:
        loop = asyncio.new_event_loop()
        yield loop
        loop.close()

    # pytest finds a plugin object's fixtures on its class; the scope is only known at run time, and pytest's
    # stubs type it as a Literal.
    fixture = pytest.fixture(scope=scope, name="event_loop")(event_loop)  # type: ignore[call-overload]
    return type("ScopedEventLoop", (), {"event_loop": fixture})()
