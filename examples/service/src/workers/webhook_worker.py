"""Drains the webhook outbox, and stops calling endpoints that keep failing until they recover."""

from __future__ import annotations

from typing import TYPE_CHECKING

from src.webhooks.dispatcher import CircuitBreaker, DeliveryFailedError, WebhookDispatcher

if TYPE_CHECKING:
    from src.webhooks.dispatcher import Delivery, Transport


class WebhookWorker:
    """Sends queued deliveries; an endpoint whose breaker is open is skipped and its delivery kept for later."""

    def __init__(self, dispatcher: WebhookDispatcher, failure_threshold: int = 5, reset_after: float = 60.0) -> None:
        self.dispatcher = dispatcher
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self.breakers: dict[str, CircuitBreaker] = {}
        self.deferred: list[Delivery] = []

    def breaker(self, url: str) -> CircuitBreaker:
        """Return the breaker of the endpoint at `url`, made on first use."""
        if url not in self.breakers:
            self.breakers[url] = CircuitBreaker(self.failure_threshold, self.reset_after, clock=self.dispatcher.clock)
        return self.breakers[url]

    async def drain(self, outbox: list[Delivery], transport: Transport) -> int:
        """Send what `outbox` holds; return how many were delivered."""
        delivered = 0
        while outbox:
            delivery = outbox.pop(0)
            breaker = self.breaker(delivery.url)
            if not breaker.allow():
                self.deferred.append(delivery)
                continue
            try:
                await self.dispatcher.send(delivery, transport)
            except DeliveryFailedError:
                breaker.record_failure()
                self.deferred.append(delivery)
            else:
                breaker.record_success()
                delivered += 1
        return delivered
