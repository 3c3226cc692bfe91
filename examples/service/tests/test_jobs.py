import asyncio

import pytest
from src.webhooks.dispatcher import Endpoint, WebhookDispatcher


@pytest.mark.asyncio
async def test_jobs_return_their_results(job_queue):
    async def double(value):
        await asyncio.sleep(0)
        return 2 * value

    results = await asyncio.gather(*(job_queue.submit(double, n) for n in range(5)), job_queue.submit(len, "abc"))
    assert results == [0, 2, 4, 6, 8, 3]


@pytest.mark.asyncio
async def test_a_failing_job_raises_in_its_caller_and_the_workers_keep_going(job_queue):
    failed_before = job_queue.failed
    with pytest.raises(ZeroDivisionError):
        await job_queue.submit(lambda: 1 / 0)
    assert job_queue.failed == failed_before + 1
    assert await job_queue.submit(sum, [1, 2, 3]) == 6


@pytest.mark.integration
@pytest.mark.asyncio
async def test_webhook_delivery_runs_as_a_background_job(job_queue, clock):
    received = []

    async def transport(delivery):
        received.append(delivery.url)
        return 200 if len(received) > 1 else 502

    dispatcher = WebhookDispatcher([Endpoint("https://a.example/hook", "sa")], clock=clock)
    (delivery,) = dispatcher.deliveries("usage.threshold", {"percent": 80})
    assert await job_queue.submit(dispatcher.send, delivery, transport, clock.sleep) == 2
    assert received == ["https://a.example/hook"] * 2
