"""The HTTP contract with an access-control (门禁) system (C11); documented in
docs/contractors.md. hazwatch is the client:

    card = Card(card_no="C0003-00000012", person_code="P00000007", name="李四",
                id_masked="1401**********1234", company="某建设公司", project="P-1",
                valid_from=date(2026, 12, 1), valid_until=date(2026, 12, 31),
                places=("一号门", "储罐区"), application_id=12)
    push_card("http://127.0.0.1:18080", token, card)   # PUT /cards/<card_no>, 200 or 201
    revoke_card("http://127.0.0.1:18080", token, card.card_no)

Requests carry ``Authorization: Bearer <token>`` when the enterprise configured one. The body is
exactly what was approved; PUT is idempotent, so a retry after a lost answer is harmless.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from hazwatch.errors import HazwatchError

TIMEOUT_S: Final = 10.0
CONTRACT_VERSION: Final = 1


class AccessControlError(HazwatchError):
    """The access-control system refused the card or could not be reached."""


@dataclass(frozen=True)
class Card:
    card_no: str
    person_code: str
    name: str
    id_masked: str
    company: str
    project: str | None
    valid_from: date
    valid_until: date
    places: tuple[str, ...]
    application_id: int
    photo_sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CONTRACT_VERSION,
            "card_no": self.card_no,
            "person_code": self.person_code,
            "name": self.name,
            "id_masked": self.id_masked,
            "company": self.company,
            "project": self.project,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "places": list(self.places),
            "application_id": self.application_id,
            # Face + card (C11): the access system fetches the photo by its checksum.
            "photo_sha256": self.photo_sha256,
        }


def _request(
    method: str, url: str, token: str | None, body: dict[str, Any] | None, timeout: float
) -> tuple[int, str]:
    if not url.startswith(("http://", "https://")):
        raise AccessControlError(f"access-control URL {url!r}: must start with http:// or https://")
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json; charset=utf-8"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (http(s) only)
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")[:500]
        raise AccessControlError(f"{method} {url}: HTTP {exc.code} {text}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AccessControlError(f"{method} {url}: unreachable ({reason})") from None


def card_url(base: str, card_no: str) -> str:
    return base.rstrip("/") + "/cards/" + urllib.parse.quote(card_no, safe="")


def push_card(
    base: str, token: str | None, card: Card, timeout: float = TIMEOUT_S
) -> tuple[int, str]:
    """PUT the card; ``(status, response text)``, AccessControlError when refused."""
    return _request("PUT", card_url(base, card.card_no), token, card.to_json(), timeout)


def revoke_card(base: str, token: str | None, card_no: str, timeout: float = TIMEOUT_S) -> int:
    """DELETE the card (exit, blacklist); 404 counts as done."""
    try:
        return _request("DELETE", card_url(base, card_no), token, None, timeout)[0]
    except AccessControlError as exc:
        if "HTTP 404" in str(exc):
            return 404
        raise
