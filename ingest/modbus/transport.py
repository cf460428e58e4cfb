"""Modbus TCP client for one gateway: the only hazwatch module (outside the simulator) that
imports pymodbus.

pymodbus changes its client API between minor releases (``unit=`` became ``slave=``, then
``device_id=``; ``count`` became keyword-only), so everything else talks to this adapter:

    with ModbusTransport("127.0.0.1", 5020, timeout_s=1.0) as gw:
        regs = gw.read_holding(unit_id=11, address=0, count=48)   # -> list of 16-bit ints

Failures come back as this module's exceptions, never pymodbus's:

- ``Unreachable``: no TCP connection (refused, dropped, or backing off before the next try);
- ``NoResponse``: the gateway did not answer this unit in time (after ``retries``);
- ``DeviceException``: a Modbus exception response (``code`` 2 illegal address, 0x0B the
  gateway's target device failed to respond, ...);
- ``MalformedResponse``: an answer that does not fit the request.

Reconnection: a dropped connection is re-opened on the next read; failed connects back off
exponentially from ``reconnect_min_s`` to ``reconnect_max_s``, so a dead gateway costs one
connect attempt per back-off period and not one per poll.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pymodbus import ExceptionResponse
from pymodbus import __version__ as pymodbus_version
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from ingest.modbus.decode import MAX_READ

log = logging.getLogger(__name__)

# pymodbus logs every failed connect and timeout at ERROR, once per poll while a gateway is
# down; this adapter reports state changes itself, so keep pymodbus quiet unless someone chose
# a level for it explicitly.
_pymodbus_log = logging.getLogger("pymodbus")
if _pymodbus_log.level == logging.NOTSET:
    _pymodbus_log.setLevel(logging.CRITICAL)

#: Modbus exception codes (Modbus Application Protocol v1.1b3, section 7).
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class TransportError(Exception):
    """Base of everything a read can fail with."""


class Unreachable(TransportError):
    """No connection to the gateway."""


class NoResponse(TransportError):
    def __init__(self, unit_id: int, message: str) -> None:
        super().__init__(message)
        self.unit_id = unit_id


class DeviceException(TransportError):
    def __init__(self, unit_id: int, code: int, message: str) -> None:
        super().__init__(message)
        self.unit_id = unit_id
        self.code = code

    @property
    def unit_unreachable(self) -> bool:
        """0x0A / 0x0B: the gateway is fine but cannot reach the addressed device."""
        return self.code in (10, 11)


class MalformedResponse(TransportError):
    def __init__(self, unit_id: int, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.unit_id = unit_id
        self.raw = raw


@dataclass
class TransportStats:
    """Counters for tests and logs: requests sent, connects made, failures by kind."""

    requests: int = 0
    connects: int = 0
    failed_connects: int = 0
    no_response: int = 0
    exceptions: int = 0


def _unit_keyword() -> str:
    """The name pymodbus gives the unit id in this installed version."""
    params = inspect.signature(ModbusTcpClient.read_holding_registers).parameters
    for name in ("device_id", "slave", "unit"):
        if name in params:
            return name
    raise RuntimeError(f"pymodbus {pymodbus_version}: read_holding_registers takes no unit id")


_UNIT_KW = _unit_keyword()


class ModbusTransport:
    """One Modbus TCP connection with timeouts, retries and reconnect back-off."""

    def __init__(
        self,
        host: str,
        port: int = 502,
        *,
        timeout_s: float = 1.0,
        retries: int = 1,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.retries = retries
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.stats = TransportStats()
        self._clock = clock
        self._backoff = reconnect_min_s
        self._next_connect = 0.0
        # pymodbus retries only on timeouts and keeps the socket; we retry ourselves and drop
        # the socket after a timeout so a late answer can never be taken for the next one.
        self._client = ModbusTcpClient(host, port=port, timeout=timeout_s, retries=0)

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    def __enter__(self) -> ModbusTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def read_holding(self, unit_id: int, address: int, count: int) -> list[int]:
        """Read Holding Registers (function 3)."""
        return self._read(self._client.read_holding_registers, "holding", unit_id, address, count)

    def read_input(self, unit_id: int, address: int, count: int) -> list[int]:
        """Read Input Registers (function 4)."""
        return self._read(self._client.read_input_registers, "input", unit_id, address, count)

    def read(self, table: str, unit_id: int, address: int, count: int) -> list[int]:
        """``read("holding", ...)`` or ``read("input", ...)``."""
        if table == "holding":
            return self.read_holding(unit_id, address, count)
        if table == "input":
            return self.read_input(unit_id, address, count)
        raise ValueError(f"unknown register table {table!r}")

    # -- internals ---------------------------------------------------------------------------

    def _ensure_connected(self) -> None:
        if self._client.connected:
            return
        now = self._clock()
        if now < self._next_connect:
            raise Unreachable(
                f"{self.endpoint}: not connected (next attempt in {self._next_connect - now:.1f} s)"
            )
        ok = False
        try:
            ok = bool(self._client.connect())
        except (OSError, ModbusException):
            ok = False
        if not ok:
            self.stats.failed_connects += 1
            self._next_connect = now + self._backoff
            self._backoff = min(self._backoff * 2, self.reconnect_max_s)
            raise Unreachable(f"{self.endpoint}: cannot connect")
        self.stats.connects += 1
        self._backoff = self.reconnect_min_s
        self._next_connect = 0.0

    def _read(
        self, method: Callable[..., Any], table: str, unit_id: int, address: int, count: int
    ) -> list[int]:
        if not 1 <= count <= MAX_READ:
            raise ValueError(f"count {count} is outside 1..{MAX_READ}")
        if address < 0 or address + count > 65536:
            raise ValueError(f"registers {address}..{address + count - 1} are outside 0..65535")
        where = f"{self.endpoint} unit {unit_id} {table} {address}+{count}"
        attempts = 1 + max(0, self.retries)
        dropped_once = False
        attempt = 0
        while True:
            self._ensure_connected()
            self.stats.requests += 1
            try:
                response = method(address, count=count, **{_UNIT_KW: unit_id})
            except ModbusIOException as exc:
                # Timed out (or garbled): resynchronise by reconnecting before any retry.
                self._client.close()
                attempt += 1
                if attempt < attempts:
                    continue
                self.stats.no_response += 1
                raise NoResponse(unit_id, f"{where}: no response ({exc})") from None
            except (ConnectionException, OSError) as exc:
                self._client.close()
                # Gateways close idle connections: one immediate reconnect before giving up.
                if not dropped_once:
                    dropped_once = True
                    continue
                raise Unreachable(f"{where}: connection lost ({exc})") from None
            break
        if isinstance(response, ExceptionResponse) or response.isError():
            code = int(getattr(response, "exception_code", 0) or 0)
            self.stats.exceptions += 1
            name = EXCEPTION_NAMES.get(code, "unknown exception")
            raise DeviceException(unit_id, code, f"{where}: exception {code} ({name})")
        registers = list(getattr(response, "registers", None) or [])
        if len(registers) != count:
            raise MalformedResponse(
                unit_id, f"{where}: {len(registers)} registers in the answer", repr(registers)
            )
        return registers
