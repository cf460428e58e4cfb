"""A17 alarm audit: the DCS's live alarm settings against the ledger.

Each alarm point of the ledger (registry.alarm_point) is a condition instance in the DCS's
OPC UA address space (Part 9, Alarms & Conditions). Its node id is built from a template
(``{tag}.{condition}`` in the server's namespace, what the demo plant and most A&C servers
use); the attributes are read by their standard browse paths from there:

==================  =========================================  ===========================
ledger              condition instance (Part 9)                finding when different
==================  =========================================  ===========================
limit_value         HighHighLimit / HighLimit / LowLimit /     ``limit_mismatch``
                    LowLowLimit (by the condition)
priority            Severity (bands of ``ingest.opcua.decode``) ``priority_mismatch``
enabled             EnabledState/Id                            ``enabled_mismatch``
(always normal)     SuppressedState/Id = true                  ``suppressed``
(always normal)     ShelvingState/CurrentState ≠ Unshelved     ``shelved``
==================  =========================================  ===========================

An **unauthorised change** is a ledger attribute (limit, severity, enabled) whose DCS value
changed since the previous audit of the same DCS to a value the ledger does not have: the
ledger changes only through approval (A16), so a DCS change that carries out an approved
change ends equal to the ledger, and any other is made outside the workflow. A point the
DCS does not have, or whose attributes cannot be read, is ``unreadable``.

    run_id = run_audit(conn, actor, enterprise_id=3, url="opc.tcp://10.0.0.5:4840",
                       namespace_uri="urn:hazwatch:simulator")
    findings(conn, run_id)                      # list of Finding
    compare(points, readings, previous)         # the pure part
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final

import psycopg
from asyncua import Client, ua

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from ingest.opcua.decode import priority_from_severity

log = logging.getLogger(__name__)

LIMIT_PATHS: Final = {"HH": "HighHighLimit", "H": "HighLimit", "L": "LowLimit", "LL": "LowLowLimit"}
ATTRIBUTE_PATHS: Final = {
    "enabled": "/0:EnabledState/0:Id",
    "severity": "/0:Severity",
    "suppressed": "/0:SuppressedState/0:Id",
    "shelving": "/0:ShelvingState/0:CurrentState",
}
DEFAULT_TEMPLATE: Final = "{tag}.{condition}"
#: Limits equal within this relative tolerance (float round trips through the DCS).
REL_TOL: Final = 1e-9


class AuditError(HazwatchError):
    """The audit could not run (DCS unreachable, bad template); the message says why."""


@dataclass(frozen=True)
class LedgerPoint:
    point_id: int
    tag: str
    condition: str
    limit_value: float | None
    priority: str
    enabled: bool


@dataclass(frozen=True)
class DcsReading:
    point_id: int
    limit_value: float | None = None
    enabled: bool | None = None
    severity: int | None = None
    suppressed: bool | None = None
    shelved: bool | None = None
    error: str | None = None

    @property
    def priority(self) -> str | None:
        return priority_from_severity(self.severity)


@dataclass(frozen=True)
class Finding:
    point_id: int
    kind: str
    attribute: str
    ledger_value: str | None
    dcs_value: str | None
    detail: str


def _show(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return not math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)
    return bool(a != b)


def compare(
    points: Sequence[LedgerPoint],
    readings: Mapping[int, DcsReading],
    previous: Mapping[int, DcsReading] | None = None,
) -> list[Finding]:
    """Findings of one audit (pure). ``previous``: the last audit's readings of the same
    DCS (none on the first audit: no unauthorised changes can be told then)."""
    out: list[Finding] = []
    for p in points:
        name = f"{p.tag}.{p.condition}"
        r = readings.get(p.point_id)
        if r is None or r.error is not None:
            why = "not read" if r is None else r.error
            out.append(Finding(p.point_id, "unreadable", "node", None, None, f"{name}: {why}"))
            continue
        if (
            p.condition in LIMIT_PATHS
            and r.limit_value is not None
            and p.limit_value is not None
            and _differs(p.limit_value, r.limit_value)
        ):
            out.append(
                Finding(p.point_id, "limit_mismatch", "limit_value", _show(p.limit_value),
                        _show(r.limit_value),
                        f"{name}: DCS limit {r.limit_value:g}, ledger {p.limit_value:g}")
            )  # fmt: skip
        if r.priority is not None and r.priority != p.priority:
            out.append(
                Finding(p.point_id, "priority_mismatch", "priority", p.priority, r.priority,
                        f"{name}: DCS severity {r.severity} ({r.priority}), ledger {p.priority}")
            )  # fmt: skip
        if r.enabled is not None and r.enabled != p.enabled:
            state = "disabled" if not r.enabled else "enabled"
            out.append(
                Finding(p.point_id, "enabled_mismatch", "enabled", _show(p.enabled),
                        _show(r.enabled), f"{name}: {state} in the DCS, not in the ledger")
            )  # fmt: skip
        if r.suppressed:
            out.append(
                Finding(p.point_id, "suppressed", "suppressed", None, "true",
                        f"{name}: suppressed in the DCS")
            )  # fmt: skip
        if r.shelved:
            out.append(
                Finding(p.point_id, "shelved", "shelved", None, "true",
                        f"{name}: shelved in the DCS")
            )  # fmt: skip
        before = (previous or {}).get(p.point_id)
        if before is None or before.error is not None:
            continue
        for attr in ("limit_value", "severity", "enabled"):
            old, new = getattr(before, attr), getattr(r, attr)
            if old is not None and new is not None and _differs(old, new) and _off(p, attr, new):
                out.append(
                    Finding(p.point_id, "unauthorised_change", attr, _show(old), _show(new),
                            f"{name}: {attr} changed in the DCS from {_show(old)} to "
                            f"{_show(new)} without an approved ledger change")
                )  # fmt: skip
    return out


def _off(p: LedgerPoint, attr: str, value: Any) -> bool:
    """Whether a DCS value of ``attr`` is not what the ledger says."""
    if attr == "limit_value":
        return p.limit_value is None or _differs(float(value), p.limit_value)
    if attr == "severity":
        return priority_from_severity(int(value)) != p.priority
    return bool(value) != p.enabled


# -- reading the DCS ------------------------------------------------------------------------


def node_string(template: str, tag: str, condition: str) -> str:
    """The string identifier of a point's condition node.

    >>> node_string("{tag}.{condition}", "TI-101", "HH")
    'TI-101.HH'
    """
    try:
        return template.format(tag=tag, condition=condition)
    except (KeyError, IndexError, ValueError) as exc:
        raise AuditError(
            f"node template {template!r}: only {{tag}} and {{condition}} may be used"
        ) from exc


def _paths(point: LedgerPoint) -> dict[str, str]:
    paths = dict(ATTRIBUTE_PATHS)
    if point.condition in LIMIT_PATHS:
        paths["limit_value"] = "/0:" + LIMIT_PATHS[point.condition]
    return paths


def _bool(v: Any) -> bool | None:
    return None if v is None else bool(v)


async def read_dcs(
    url: str,
    points: Sequence[LedgerPoint],
    *,
    namespace_uri: str,
    template: str = DEFAULT_TEMPLATE,
    timeout_s: float = 10.0,
) -> dict[int, DcsReading]:
    """Read every point's attributes: one TranslateBrowsePaths and one Read request."""
    client = Client(url, timeout=timeout_s)
    client.name = client.description = "hazwatch alarm audit"
    client.session_timeout = 600_000  # what asyncua's server grants; more only logs a warning
    try:
        await client.connect()
    except Exception as exc:  # asyncua raises assorted types for refused connections
        raise AuditError(f"cannot connect to {url}: {str(exc) or type(exc).__name__}") from exc
    try:
        try:
            ns = await client.get_namespace_index(namespace_uri)
        except ValueError:
            raise AuditError(f"{url} has no namespace {namespace_uri!r}") from None
        wanted: list[tuple[int, str]] = []
        bpaths: list[ua.BrowsePath] = []
        for p in points:
            start = ua.NodeId(node_string(template, p.tag, p.condition), ns)
            for attr, rel in _paths(p).items():
                bp = ua.BrowsePath()
                bp.StartingNode = start
                bp.RelativePath = ua.RelativePath.from_string(rel)
                bpaths.append(bp)
                wanted.append((p.point_id, attr))
        results = await client.uaclient.translate_browsepaths_to_nodeids(bpaths) if bpaths else []
        found: list[tuple[int, str, ua.NodeId]] = []
        for (pid, attr), res in zip(wanted, results, strict=True):
            # An attribute the server's type lacks (e.g. no ShelvingState) is simply unknown.
            if res.StatusCode.is_good() and res.Targets:
                target = res.Targets[0].TargetId
                found.append((pid, attr, ua.NodeId(target.Identifier, target.NamespaceIndex)))
        values = (
            await client.uaclient.read_attributes([n for _, _, n in found], ua.AttributeIds.Value)
            if found
            else []
        )
        raw: dict[int, dict[str, Any]] = {p.point_id: {} for p in points}
        for (pid, attr, _), dv in zip(found, values, strict=True):
            ok = dv.StatusCode is None or dv.StatusCode.is_good()
            raw[pid][attr] = dv.Value.Value if ok and dv.Value is not None else None
    finally:
        try:
            await asyncio.wait_for(client.disconnect(), timeout_s)
        except Exception as exc:  # the server may already be gone; nothing left to release
            log.debug("disconnect from %s failed: %r", url, exc)
    out: dict[int, DcsReading] = {}
    for p in points:
        vals = raw[p.point_id]
        if not vals:  # no attribute at all: the condition node is not there
            out[p.point_id] = DcsReading(
                p.point_id, error=f"no condition node {node_string(template, p.tag, p.condition)}"
            )
            continue
        shelving = vals.get("shelving")
        text = shelving.Text if isinstance(shelving, ua.LocalizedText) else shelving
        limit = vals.get("limit_value")
        out[p.point_id] = DcsReading(
            p.point_id,
            limit_value=None if limit is None else float(limit),
            enabled=_bool(vals.get("enabled")),
            severity=None if vals.get("severity") is None else int(vals["severity"]),
            suppressed=_bool(vals.get("suppressed")),
            shelved=None if text is None else text not in ("", "Unshelved"),
        )
    return out


# -- database --------------------------------------------------------------------------------


def ledger_points(conn: psycopg.Connection, enterprise_id: int) -> list[LedgerPoint]:
    rows = conn.execute(
        """SELECT p.id, t.name, p.condition, p.limit_value, p.priority, p.enabled
           FROM registry.alarm_point p JOIN registry.tag t ON t.id = p.tag_id
           WHERE t.enterprise_id = %s ORDER BY t.name, p.condition""",
        (enterprise_id,),
    ).fetchall()
    return [LedgerPoint(*r) for r in rows]


_READING_COLS = ("limit_value", "enabled", "severity", "suppressed", "shelved", "error")


def previous_readings(
    conn: psycopg.Connection, enterprise_id: int, endpoint: str
) -> tuple[datetime | None, dict[int, DcsReading]]:
    """The last finished audit of this DCS: when it started and what it read."""
    row = conn.execute(
        "SELECT id, started_at FROM alarm.dcs_audit_run WHERE enterprise_id = %s"
        " AND endpoint = %s AND finished_at IS NOT NULL AND error IS NULL"
        " ORDER BY started_at DESC, id DESC LIMIT 1",
        (enterprise_id, endpoint),
    ).fetchone()
    if row is None:
        return None, {}
    rows = conn.execute(
        "SELECT point_id, limit_value, enabled, severity, suppressed, shelved, error"
        " FROM alarm.dcs_reading WHERE run_id = %s",
        (row[0],),
    ).fetchall()
    return row[1], {int(r[0]): DcsReading(*r) for r in rows}


def run_audit(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    enterprise_id: int,
    url: str,
    namespace_uri: str,
    template: str = DEFAULT_TEMPLATE,
    timeout_s: float = 10.0,
) -> int:
    """Read the DCS, compare, store the run with its readings and findings; the run's id.

    A DCS that cannot be reached is stored as a failed run (``error``) and raised again."""
    points = ledger_points(conn, enterprise_id)
    _since, previous = previous_readings(conn, enterprise_id, url)
    row = conn.execute(
        "INSERT INTO alarm.dcs_audit_run (enterprise_id, endpoint, actor) VALUES (%s, %s, %s)"
        " RETURNING id",
        (enterprise_id, url, actor.name),
    ).fetchone()
    assert row is not None
    run_id = int(row[0])
    try:
        readings = asyncio.run(
            read_dcs(url, points, namespace_uri=namespace_uri, template=template,
                     timeout_s=timeout_s)
        )  # fmt: skip
    except AuditError as exc:
        conn.execute(
            "UPDATE alarm.dcs_audit_run SET finished_at = now(), error = %s WHERE id = %s",
            (str(exc), run_id),
        )
        raise
    found = compare(points, readings, previous)
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO alarm.dcs_reading (run_id, point_id, limit_value, enabled,"
                " severity, priority, suppressed, shelved, error)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (run_id, r.point_id, r.limit_value, r.enabled, r.severity, r.priority,
                     r.suppressed, r.shelved, r.error)
                    for r in readings.values()
                ],
            )  # fmt: skip
            cur.executemany(
                "INSERT INTO alarm.dcs_finding (run_id, point_id, kind, attribute,"
                " ledger_value, dcs_value, detail) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(run_id, *(getattr(f, x.name) for x in fields(Finding))) for f in found],
            )
        conn.execute(
            "UPDATE alarm.dcs_audit_run SET finished_at = now(), points = %s, findings = %s"
            " WHERE id = %s",
            (len(points), len(found), run_id),
        )
    return run_id


def findings(conn: psycopg.Connection, run_id: int) -> list[Finding]:
    rows = conn.execute(
        "SELECT point_id, kind, attribute, ledger_value, dcs_value, detail"
        " FROM alarm.dcs_finding WHERE run_id = %s ORDER BY id",
        (run_id,),
    ).fetchall()
    return [Finding(*r) for r in rows]
