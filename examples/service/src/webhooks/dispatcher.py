"""Turn billing events into signed webhook deliveries and send them with retries."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from src.retry import RetryPolicy
from src.webhooks import signing

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    Transport = Callable[["Delivery"], Awaitable[int]]
    Sleep = Callable[[float], Awaitable[None]]

JSON = "application/json"


@dataclass(frozen=True)
class Endpoint:
    """A customer's webhook URL, its signing secret and the event types it subscribed to (``*``: all)."""

    url: str
    secret: str
    events: frozenset[str] = frozenset({"*"})

    def wants(self, event_type: str) -> bool:
        """Tell whether this endpoint subscribed to `event_type` (``invoice.*`` covers ``invoice.paid``)."""
        family = event_type.partition(".")[0]
        return bool({"*", event_type, f"{family}.*"} & self.events)


@dataclass(frozen=True)
class Delivery:
    """One HTTP POST to make."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class DeliveryFailedError(RuntimeError):
    """Every attempt failed, or the endpoint answered with a status not worth retrying."""

    def __init__(self, delivery: Delivery, attempts: int, status: int | None) -> None:
        super().__init__(f"{delivery.url}: gave up after {attempts} attempt(s), last status {status}")
        self.attempts = attempts
        self.status = status


class WebhookDispatcher:
    """Builds deliveries for the endpoints that want an event, and sends them."""

    def __init__(
        self,
        endpoints: Iterable[Endpoint],
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.endpoints = list(endpoints)
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.rng = rng or random.Random()

    def deliveries(self, event_type: str, data: dict[str, Any]) -> list[Delivery]:
        """Return one signed delivery per endpoint subscribed to `event_type`."""
        timestamp = int(self.clock())
        body = json.dumps({"type": event_type, "created": timestamp, "data": data}, sort_keys=True).encode()
        return [
            Delivery(
                endpoint.url,
                body,
                {"Content-Type": JSON, "Webhook-Signature": signing.sign(body, endpoint.secret, timestamp)},
            )
            for endpoint in self.endpoints
            if endpoint.wants(event_type)
        ]

    async def send(self, delivery: Delivery, transport: Transport, sleep: Sleep = asyncio.sleep) -> int:
        """Send `delivery` until a 2xx answer; return the number of attempts or raise `DeliveryFailedError`."""
        attempt = 0
        while True:
            attempt += 1
            try:
                status: int | None = await transport(delivery)
            except (OSError, asyncio.TimeoutError):
                status = None
            if status is not None and 200 <= status < 300:
                return attempt
            if not self.policy.should_retry(attempt, status):
                raise DeliveryFailedError(delivery, attempt, status)
            await sleep(self.policy.delay(attempt, self.rng))
