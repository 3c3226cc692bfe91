import pytest
from src.webhooks.dispatcher import Endpoint, WebhookDispatcher
from src.workers.webhook_worker import WebhookWorker


@pytest.mark.asyncio
async def test_breaker_opens_after_repeated_failures_and_deliveries_are_deferred(clock):
    async def down(delivery):
        return 503

    dispatcher = WebhookDispatcher([Endpoint("https://down.example/hook", "s")], clock=clock)
    worker = WebhookWorker(dispatcher, failure_threshold=2)
    outbox = [dispatcher.deliveries("invoice.paid", {"n": n})[0] for n in range(4)]
    assert await worker.drain(outbox, down) == 0
    assert len(worker.deferred) == 4
    assert not worker.breaker("https://down.example/hook").allow()


@pytest.mark.asyncio
async def test_breaker_lets_a_probe_through_after_the_reset_time(clock):
    calls = []

    async def recovered(delivery):
        calls.append(delivery)
        return 200

    dispatcher = WebhookDispatcher([Endpoint("https://flaky.example/hook", "s")], clock=clock)
    worker = WebhookWorker(dispatcher, failure_threshold=1, reset_after=30)
    worker.breaker("https://flaky.example/hook").record_failure()
    (delivery,) = dispatcher.deliveries("invoice.paid", {})
    assert await worker.drain([delivery], recovered) == 0
    clock.advance(31)
    outbox, worker.deferred = worker.deferred, []
    assert await worker.drain(outbox, recovered) == 1
    assert len(calls) == 1
