"""A small access-control system that speaks the contract of ``access_control`` (C11), for
tests and the demo: it stores the cards it receives and answers swipes by them.

    sim = AccessSimulator(port=find_free_port(), token="s3cret").start()
    ...                                    # hazwatch pushes cards to sim.url
    sim.cards["C0003-00000012"]            # the JSON as received
    sim.swipe("C0003-00000012", "储罐区", date(2026, 12, 2))   # True: card, day and place fit
    sim.stop()

``hazwatch contractors access-sim --port P`` runs one in the foreground (the demo's child).
Endpoints: PUT/GET/DELETE /cards/<no>, GET /cards, POST /swipes {card_no, place, day}.
"""

from __future__ import annotations

import json
import threading
from datetime import date
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import unquote

REQUIRED: Final = ("card_no", "person_code", "name", "valid_from", "valid_until", "places")


class AccessSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> None:
        self.token = token
        self.cards: dict[str, dict[str, Any]] = {}
        self.swipes: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> AccessSimulator:
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="access-sim", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def swipe(self, card_no: str, place: str, day: date) -> bool:
        """Whether the door opens: a known card, within its period, at one of its places."""
        with self.lock:
            card = self.cards.get(card_no)
            ok = bool(
                card
                and date.fromisoformat(card["valid_from"])
                <= day
                <= date.fromisoformat(card["valid_until"])
                and place in card["places"]
            )
            self.swipes.append(
                {"card_no": card_no, "place": place, "day": day.isoformat(), "allowed": ok}
            )
        return ok


def card_problem(body: object) -> str | None:
    """Why a received card is not acceptable under the contract, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    missing = [k for k in REQUIRED if not body.get(k)]
    if missing:
        return f"missing {', '.join(missing)}"
    try:
        lo, hi = date.fromisoformat(body["valid_from"]), date.fromisoformat(body["valid_until"])
    except (TypeError, ValueError):
        return "valid_from and valid_until are ISO dates (YYYY-MM-DD)"
    if lo > hi:
        return "valid_from is after valid_until"
    if not isinstance(body["places"], list) or not all(isinstance(p, str) for p in body["places"]):
        return "places is a list of strings"
    return None


def _handler(sim: AccessSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "hazwatch-access-sim/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests and the demo read the stored cards, not a log

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if sim.token and self.headers.get("Authorization") != f"Bearer {sim.token}":
                self._send(HTTPStatus.UNAUTHORIZED, {"error": "bad or missing bearer token"})
                return False
            return True

        def _body(self) -> object:
            size = int(self.headers.get("Content-Length") or 0)
            try:
                return json.loads(self.rfile.read(size) or b"null")
            except ValueError:
                return None

        def _card_no(self) -> str | None:
            if self.path.startswith("/cards/"):
                return unquote(self.path[len("/cards/") :])
            return None

        def do_PUT(self) -> None:
            card_no = self._card_no()
            if not self._authorised():
                return
            if card_no is None:
                self._send(HTTPStatus.NOT_FOUND, {"error": "PUT /cards/<card_no>"})
                return
            body = self._body()
            problem = card_problem(body)
            if problem is None and isinstance(body, dict) and body["card_no"] != card_no:
                problem = "card_no in the body differs from the URL"
            if problem is not None:
                self._send(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": problem})
                return
            assert isinstance(body, dict)
            with sim.lock:
                created = card_no not in sim.cards
                sim.cards[card_no] = body
            self._send(HTTPStatus.CREATED if created else HTTPStatus.OK, {"card_no": card_no})

        def do_GET(self) -> None:
            if not self._authorised():
                return
            if self.path == "/cards":
                with sim.lock:
                    self._send(HTTPStatus.OK, list(sim.cards.values()))
                return
            card_no = self._card_no()
            with sim.lock:
                card = sim.cards.get(card_no or "")
            if card is None:
                self._send(HTTPStatus.NOT_FOUND, {"error": "no such card"})
            else:
                self._send(HTTPStatus.OK, card)

        def do_DELETE(self) -> None:
            if not self._authorised():
                return
            card_no = self._card_no()
            with sim.lock:
                found = sim.cards.pop(card_no or "", None)
            self._send(HTTPStatus.OK if found else HTTPStatus.NOT_FOUND, {"card_no": card_no})

        def do_POST(self) -> None:
            if not self._authorised():
                return
            body = self._body()
            if self.path != "/swipes" or not isinstance(body, dict):
                self._send(HTTPStatus.NOT_FOUND, {"error": "POST /swipes {card_no, place, day}"})
                return
            try:
                day = date.fromisoformat(str(body.get("day")))
            except ValueError:
                self._send(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": "day: YYYY-MM-DD"})
                return
            ok = sim.swipe(str(body.get("card_no")), str(body.get("place")), day)
            self._send(HTTPStatus.OK, {"allowed": ok})

    return Handler


def serve(host: str, port: int, token: str | None, stop: threading.Event) -> None:
    """Run until ``stop`` is set (the CLI and the demo's child)."""
    sim = AccessSimulator(host, port, token).start()
    try:
        stop.wait()
    finally:
        sim.stop()
