"""The one HTTP client of the channels: JSON POST over urllib, errors as DeliveryError."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from workflows.channels.base import DeliveryError, require


def check_url(url: str, kind: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DeliveryError(f"{kind} channel: url {url!r} is not an http(s) URL")
    return url


def url_setting(config: Mapping[str, Any], kind: str) -> str:
    """The required http(s) ``url`` of an HTTP channel's config."""
    return check_url(str(require(config, "url", kind)), kind)


def timeout_setting(config: Mapping[str, Any], default: float = 10.0) -> float:
    """The config's ``timeout`` in seconds."""
    return float(config.get("timeout", default))


def post_json(
    url: str,
    payload: Mapping[str, Any] | bytes,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any]:
    """POST JSON; return (status, decoded JSON body or None). Non-2xx raises DeliveryError.

    >>> post_json("http://127.0.0.1:8080/hook", {"text": "hi"})
    (200, {'ok': True})
    """
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    req = urllib.request.Request(  # noqa: S310 - the scheme is checked by check_url
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode("utf-8", "replace")
        raise DeliveryError(f"{urlsplit(url).netloc} answered HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{urlsplit(url).netloc} unreachable: {exc}") from exc
    try:
        decoded = json.loads(raw) if raw.strip() else None
    except ValueError:
        decoded = None
    return status, decoded
