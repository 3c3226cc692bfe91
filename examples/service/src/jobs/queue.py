"""A bounded job queue served by a fixed pool of asyncio workers, for work too small for a broker."""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


class JobQueue:
    """Run submitted callables (plain or async) on `concurrency` workers; `submit` returns the job's result."""

    def __init__(self, concurrency: int = 2, maxsize: int = 100) -> None:
        self.concurrency = concurrency
        self.maxsize = maxsize
        self.completed = 0
        self.failed = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] | None = None
        self._workers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start the workers in the running loop; the queue belongs to that loop from now on."""
        if self._workers:
            raise RuntimeError("JobQueue is already running")
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue(self.maxsize)
        self._workers = [asyncio.create_task(self._work(), name=f"job-worker-{n}") for n in range(self.concurrency)]

    async def submit(self, function: Callable[..., Any], *args: Any) -> Any:
        """Queue `function(*args)`, wait for a worker to run it, and return its result (or raise its error)."""
        if self._queue is None:
            raise RuntimeError("JobQueue is not running")
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError("JobQueue is attached to a different loop than the one running this call")
        future: asyncio.Future[Any] = self._loop.create_future()
        await self._queue.put((function, args, future))
        return await future

    async def join(self) -> None:
        """Wait until every queued job has run."""
        if self._queue is not None:
            await self._queue.join()

    async def stop(self) -> None:
        """Cancel the workers; jobs still queued are dropped."""
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        self._queue = None

    async def _work(self) -> None:
        queue = self._queue
        assert queue is not None
        while True:
            function, args, future = await queue.get()
            try:
                result = function(*args)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as err:
                self.failed += 1
                if not future.cancelled():
                    future.set_exception(err)
            else:
                self.completed += 1
                if not future.cancelled():
                    future.set_result(result)
            finally:
                queue.task_done()
