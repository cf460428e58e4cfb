"""The wire format of the upward exchange (R9): pure functions shared by sender and receiver.

    body = encode_batch(origin={"instance": "jinan-chem", "level": "enterprise"}, items=[...])
    headers = sign_headers(private_key, body, now=time.time())
    # POST {upstream}/api/exchange/v1/batch with headers + "Authorization: Bearer hzw_..."
    verify(public_key_b64, body, headers["X-Hazwatch-Timestamp"],
           headers["X-Hazwatch-Signature"], now=time.time())   # raises ProtocolError

The bearer token says who the sender is and what it may write (an ``exchange`` token scoped to
an enterprise or a region); the Ed25519 signature, with the public key the receiver registered
for that token, proves the batch was not altered and was made by the holder of the private key
(a leaked token alone cannot forge batches). The timestamp bounds replays; replays inside the
window are harmless because every item carries a key the receiver applies at most once.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hazwatch.errors import HazwatchError

PATH: Final = "/api/exchange/v1/batch"
TIMESTAMP_HEADER: Final = "X-Hazwatch-Timestamp"
SIGNATURE_HEADER: Final = "X-Hazwatch-Signature"
#: Seconds a signed batch stays acceptable; clocks of plant and platform may drift a little.
MAX_SKEW_S: Final = 300
MAX_ITEMS: Final = 10_000
_DOMAIN: Final = b"hazwatch-exchange-v1\n"


class ProtocolError(HazwatchError):
    """A batch that must be refused as a whole (bad signature, stale, malformed)."""


@dataclass(frozen=True)
class Item:
    """One thing pushed upward: ``key`` is unique within ``kind`` across all origins."""

    id: int
    kind: str
    key: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Batch:
    origin: Mapping[str, Any]
    items: tuple[Item, ...]


def encode_batch(origin: Mapping[str, Any], items: Sequence[Item]) -> bytes:
    doc = {
        "origin": dict(origin),
        "items": [{"id": i.id, "kind": i.kind, "key": i.key, "data": i.data} for i in items],
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def decode_batch(body: bytes) -> Batch:
    """Parse and check the shape of a batch; any flaw is a ProtocolError naming it."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"body is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ProtocolError("body must be an object with an 'items' list")
    origin = doc.get("origin")
    if not isinstance(origin, dict):
        raise ProtocolError("'origin' must be an object")
    if len(doc["items"]) > MAX_ITEMS:
        raise ProtocolError(f"at most {MAX_ITEMS} items per batch, got {len(doc['items'])}")
    items = []
    for n, raw in enumerate(doc["items"]):
        if not isinstance(raw, dict):
            raise ProtocolError(f"item {n} is not an object")
        ident, kind, key, data = (raw.get(k) for k in ("id", "kind", "key", "data"))
        if not isinstance(ident, int) or isinstance(ident, bool):
            raise ProtocolError(f"item {n}: 'id' must be an integer")
        if not isinstance(kind, str) or not isinstance(key, str) or not key or len(key) > 1000:
            raise ProtocolError(f"item {n}: 'kind' and 'key' must be strings (key 1-1000 chars)")
        if not isinstance(data, dict):
            raise ProtocolError(f"item {n}: 'data' must be an object")
        items.append(Item(ident, kind, key, data))
    return Batch(origin, tuple(items))


def _message(body: bytes, timestamp: str) -> bytes:
    return _DOMAIN + timestamp.encode() + b"\n" + hashlib.sha256(body).hexdigest().encode()


def sign_headers(key: Ed25519PrivateKey, body: bytes, *, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    signature = key.sign(_message(body, timestamp))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: base64.urlsafe_b64encode(signature).decode(),
    }


def verify(public_key: str, body: bytes, timestamp: str | None, signature: str | None, *,
           now: float) -> None:  # fmt: skip
    if not timestamp or not signature:
        raise ProtocolError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        sent = int(timestamp)
    except ValueError:
        raise ProtocolError(f"{TIMESTAMP_HEADER} must be Unix seconds, got {timestamp!r}") from None
    if abs(now - sent) > MAX_SKEW_S:
        raise ProtocolError(
            f"batch signed at {sent} is more than {MAX_SKEW_S} s from this server's clock "
            f"({int(now)}): check both clocks (NTP)"
        )
    try:
        raw = base64.urlsafe_b64decode(signature.encode())
        load_public_key(public_key).verify(raw, _message(body, timestamp))
    except (InvalidSignature, ValueError):
        raise ProtocolError("signature does not match the key registered for this token") from None


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public half as 44 URL-safe base64 characters (what ``exchange trust`` takes)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise ProtocolError(f"not an Ed25519 public key: {text!r}") from None
