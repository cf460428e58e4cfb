"""What every ``hazwatch collect …`` command shares: map files, device rows, spool names.

text = read_text(Path("unit1.csv"))                       # HazwatchError on trouble
gw = device_by_code(conn, actor, "gateway", ent, "opcua:10.1.2.3:4840",
                    {"name": url, "protocol": "opcua", "host": h, "port": p},
                    reason="OPC UA endpoint of a collector")
Writer(settings, name=spool_name("opcua", host, port))      # one spool per source
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
from psycopg import sql

from hazwatch import registers
from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from hazwatch.settings import Settings


def enterprise_ref(option: str | None, settings: Settings) -> str:
    """The enterprise a collector files its tags under: ``--enterprise``, else [site] enterprise."""
    ref = option or settings.site.enterprise
    if not ref:
        raise HazwatchError(
            "no enterprise to file tags under: pass --enterprise (id, code or exact name) or "
            "set enterprise in the [site] section of the settings"
        )
    return ref


def read_text(path: Path) -> str:
    """A map file's text, or one clear error naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HazwatchError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise HazwatchError(f"{path}:1: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise HazwatchError(f"{path}: {exc.strerror}") from None


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def spool_name(protocol: str, host: str, port: int) -> str:
    """The writer's name for one source: two collectors must never share a spool file."""
    return f"{protocol}-{safe_name(host)}-{port}"


def device_by_code(
    conn: psycopg.Connection,
    actor: Actor,
    register: str,
    enterprise_id: int,
    code: str,
    values: dict[str, object],
    *,
    reason: str,
    where: str = "",
) -> int:
    """Id of a gateway or sensor by code in the enterprise, registered (audited) when missing."""
    query = sql.SQL("SELECT id FROM {} WHERE enterprise_id = %s AND code = %s").format(
        registers.register(register).qualified
    )
    row = conn.execute(query, (enterprise_id, code)).fetchone()
    if row is not None:
        return int(row[0])
    if not values:
        raise HazwatchError(
            f"{where}: {register} {code} is not registered and nothing says what it is: "
            "register it first"
        )
    return registers.insert(
        conn, actor, register, {"enterprise_id": enterprise_id, "code": code, **values},
        reason=reason,
    )  # fmt: skip
