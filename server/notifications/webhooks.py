"""A webhook's request: the body, the signature and one POST to a checked address.

Headers (as GitHub's, under our name):

    Content-Type: application/json
    User-Agent: satreps-hub-webhook
    X-Satreps-Event: upload.ready
    X-Satreps-Delivery: 5f0c...   (the delivery id: the same on every retry and redelivery)
    X-Satreps-Timestamp: 1765000000   (Unix seconds when this attempt was signed)
    X-Satreps-Signature-256: sha256=<hex>

The signature is HMAC-SHA256 with the subscription's secret as key over the bytes of the
timestamp header's value, a full stop, and the raw request body:

    hex(HMAC_SHA256(secret, timestamp + "." + body))

A receiver recomputes it over the body it received (before parsing it), compares in
constant time, and refuses timestamps too far from its clock (replays).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

from server.core.errors import DomainError
from server.notifications.addresses import check_target
from server.notifications.delivery_codes import DeliveryCode
from server.notifications.errors import NotificationErrorCode

USER_AGENT = "satreps-hub-webhook"
RESPONSE_KEPT = 1024  # bytes of a receiver's answer kept in the delivery log


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does (and the tests): a constant-time comparison."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def body_of(delivery_id: str, event: str, occurred_at: str, data: dict[str, Any]) -> bytes:
    """The same bytes on every attempt of a delivery (keys sorted, compact)."""
    document = {"deliveryId": delivery_id, "event": event, "occurredAt": occurred_at, **data}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Outcome:
    ok: bool
    code: str | None = None
    status: int | None = None
    response: str | None = None


async def post(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    event: str,
    delivery_id: str,
    body: bytes,
    seconds: float,
    allow_private: bool,
) -> Outcome:
    """One attempt: resolve and check the host again, connect to that address, POST, read at
    most RESPONSE_KEPT bytes of the answer; the whole attempt within `seconds`."""
    try:
        target = await asyncio.wait_for(check_target(url, allow_private=allow_private), seconds)
    except DomainError as error:
        code = error.details[0].code
        if code == NotificationErrorCode.PRIVATE_ADDRESS:
            return Outcome(False, DeliveryCode.PRIVATE_ADDRESS, response=str(error)[:RESPONSE_KEPT])
        return Outcome(False, DeliveryCode.CONNECTION_FAILED, response=str(error)[:RESPONSE_KEPT])
    except TimeoutError:
        return Outcome(False, DeliveryCode.TIMEOUT, response="name resolution timed out")
    timestamp = str(int(time.time()))
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host:  # an IPv6 literal
        host_header = f"[{target.host}]" + (
            "" if target.port == default_port else f":{target.port}"
        )
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": host_header,
        "X-Satreps-Event": event,
        "X-Satreps-Delivery": delivery_id,
        "X-Satreps-Timestamp": timestamp,
        "X-Satreps-Signature-256": signature(secret, timestamp, body),
    }
    request_url = httpx.URL(target.url).copy_with(host=target.address)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        async with asyncio.timeout(seconds):
            request = client.build_request(
                "POST", request_url, content=body, headers=headers, extensions=extensions
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                kept = bytearray()
                async for chunk in response.aiter_raw():
                    kept += chunk
                    if len(kept) >= RESPONSE_KEPT:
                        break
            finally:
                await response.aclose()
    except TimeoutError:
        return Outcome(False, DeliveryCode.TIMEOUT, response=f"no answer within {seconds} s")
    except httpx.TimeoutException:
        return Outcome(False, DeliveryCode.TIMEOUT, response=f"no answer within {seconds} s")
    except (httpx.HTTPError, OSError) as error:
        text = f"{type(error).__name__}: {error}"
        return Outcome(False, DeliveryCode.CONNECTION_FAILED, response=text[:RESPONSE_KEPT])
    text = bytes(kept[:RESPONSE_KEPT]).decode("utf-8", "replace")
    if 200 <= response.status_code < 300:
        return Outcome(True, None, response.status_code, text)
    return Outcome(False, DeliveryCode.HTTP_ERROR, response.status_code, text)
