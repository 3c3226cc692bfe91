import json

import pytest
from src.retry import RetryPolicy
from src.webhooks import signing
from src.webhooks.dispatcher import DeliveryFailedError, Endpoint, WebhookDispatcher

SECRET = "whsec_0123456789abcdef"
BODY = b'{"type":"invoice.paid"}'
NOW = 1_700_000_000


def test_signature_matches_a_known_vector():
    # printf '1700000000.{"type":"invoice.paid"}' | openssl dgst -sha256 -hmac whsec_0123456789abcdef
    expected = "44263ebaa09c8976c973b83729a66dcb4a25fab58d1e9ff4af870f8eed76c877"
    header = signing.sign(BODY, SECRET, NOW)
    assert header == f"t={NOW},v1={expected}"
    assert signing.verify(BODY, header, SECRET, now=NOW + 10) == NOW


def test_any_change_to_body_secret_or_time_breaks_the_signature():
    header = signing.sign(BODY, SECRET, NOW)
    with pytest.raises(signing.SignatureError, match="no signature matches"):
        signing.verify(BODY + b" ", header, SECRET, now=NOW)
    with pytest.raises(signing.SignatureError, match="no signature matches"):
        signing.verify(BODY, header, SECRET + "x", now=NOW)
    replayed = header.replace(f"t={NOW}", f"t={NOW + 1}")
    with pytest.raises(signing.SignatureError, match="no signature matches"):
        signing.verify(BODY, replayed, SECRET, now=NOW)


def test_old_signatures_are_refused_and_rotated_secrets_accepted():
    header = signing.sign(BODY, SECRET, NOW)
    with pytest.raises(signing.SignatureError, match="tolerance 300s"):
        signing.verify(BODY, header, SECRET, now=NOW + 301)
    rotating = f"{header},v1={signing.compute(BODY, 'whsec_new', NOW)}"
    assert signing.verify(BODY, rotating, "whsec_new", now=NOW) == NOW


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", f"t={NOW}", f"t={NOW};v1=00"])
def test_malformed_headers_are_refused(header):
    with pytest.raises(signing.SignatureError):
        signing.parse(header)


def test_deliveries_go_to_subscribed_endpoints_only(clock):
    endpoints = [
        Endpoint("https://a.example/hook", "sa", frozenset({"invoice.*"})),
        Endpoint("https://b.example/hook", "sb", frozenset({"usage.threshold"})),
        Endpoint("https://c.example/hook", "sc"),
    ]
    dispatcher = WebhookDispatcher(endpoints, clock=clock)
    deliveries = dispatcher.deliveries("invoice.paid", {"invoice": "in_1", "amount": "87.82"})
    assert [delivery.url for delivery in deliveries] == ["https://a.example/hook", "https://c.example/hook"]
    first = deliveries[0]
    payload = json.loads(first.body)
    assert payload == {
        "type": "invoice.paid",
        "created": int(clock.now),
        "data": {"invoice": "in_1", "amount": "87.82"},
    }
    assert signing.verify(first.body, first.headers["Webhook-Signature"], "sa", now=clock.now) == int(clock.now)


@pytest.mark.asyncio
async def test_send_retries_server_errors_and_dropped_connections_with_backoff(clock):
    answers = iter([503, None, 200])

    async def transport(delivery):
        answer = next(answers)
        if answer is None:
            raise ConnectionResetError("peer closed")
        return answer

    dispatcher = WebhookDispatcher([Endpoint("https://a.example/hook", "sa")], RetryPolicy(base_delay=1.0), clock=clock)
    (delivery,) = dispatcher.deliveries("invoice.paid", {})
    assert await dispatcher.send(delivery, transport, sleep=clock.sleep) == 3
    assert clock.sleeps == [1.0, 2.0]


@pytest.mark.asyncio
async def test_client_errors_are_not_retried(clock):
    async def transport(delivery):
        return 410

    dispatcher = WebhookDispatcher([Endpoint("https://gone.example/hook", "s")], clock=clock)
    (delivery,) = dispatcher.deliveries("invoice.paid", {})
    with pytest.raises(DeliveryFailedError, match="after 1 attempt") as failure:
        await dispatcher.send(delivery, transport, sleep=clock.sleep)
    assert failure.value.status == 410
    assert clock.sleeps == []
