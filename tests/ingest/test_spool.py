"""The writer's SQLite spool: order, durability, faithful round-trips, safe loading."""

from __future__ import annotations

import pickle
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ingest.spool import (
    Spool,
    SpoolDecodeError,
    SpoolEncodeError,
    decode_rows,
    encode_rows,
    unspoolable,
)
from ingest.types import (
    AlarmEvent,
    DeviceHealth,
    Rejected,
    Sample,
    VibrationOverall,
    Waveform,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
T_UTC = datetime(2025, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
T_CST = datetime(2025, 3, 1, 16, 30, 15, 654321, tzinfo=SHANGHAI)
T_FIXED = datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))


def test_order_is_kept_across_appends_and_deletes(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.sqlite") as spool:
        assert spool.first() is None and spool.rows == 0 and spool.oldest() is None
        ids = [spool.append("ts.sample", [(T_UTC, i, float(i), 192)] * (i + 1)) for i in range(5)]
        assert ids == sorted(ids)
        assert (spool.batches, spool.rows) == (5, 15)
        seen = []
        while (batch := spool.first()) is not None:
            seen.append(batch.rows[0][1])
            spool.delete(batch.id)
            # Appending while draining keeps FIFO order: new batches queue behind old ones.
            if len(seen) == 2:
                spool.append("ts.sample", [(T_UTC, 99, 0.0, 192)])
        assert seen == [0, 1, 2, 3, 4, 99]
        assert (spool.batches, spool.rows) == (0, 0)
        # Ids are never reused (AUTOINCREMENT), so a later batch always sorts last.
        assert spool.append("ts.sample", [(T_UTC, 1, 1.0, 192)]) > max(ids)


def test_durable_across_reopen_and_crash(tmp_path: Path) -> None:
    path = tmp_path / "spool" / "w.sqlite"  # parent folders are created
    with Spool(path) as spool:
        spool.append("ts.sample", [(T_UTC, 1, 1.5, 192)], oldest=1000.0)
    # A process that appends and dies without closing anything.
    code = textwrap.dedent(
        f"""
        import os
        from datetime import datetime, UTC
        from ingest.spool import Spool
        spool = Spool({str(path)!r})
        spool.append("alarm.event", [(datetime(2025, 1, 1, tzinfo=UTC), 7, "ALM")])
        os._exit(9)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert proc.returncode == 9
    with Spool(path) as spool:
        assert (spool.batches, spool.rows) == (2, 2)
        assert spool.oldest() == 1000.0
        batches = list(spool)
        assert [b.target for b in batches] == ["ts.sample", "alarm.event"]
        assert batches[1].rows == [(datetime(2025, 1, 1, tzinfo=UTC), 7, "ALM")]
        mode = spool._db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def _types_rows() -> dict[str, list[tuple[object, ...]]]:
    """One or more rows of every row type, as the writer spools them (plain tuples)."""
    return {
        "ts.sample": [tuple(Sample(T_UTC, 1, 42.25)), tuple(Sample(T_CST, 2, None, 0))],
        "alarm.event": [
            tuple(
                AlarmEvent(
                    T_FIXED,
                    3,
                    "ALM",
                    "HI",
                    point_id=11,
                    priority="high",
                    category="process",
                    limit_value=80.0,
                    value=81.5,
                    message="高报 TI-101",
                    operator="张三",
                    source="dcs",
                    source_event_id="ev-1",
                )
            ),
            tuple(AlarmEvent(T_UTC, 3, "RTN")),
        ],
        "vib.overall": [tuple(VibrationOverall(T_CST, 5, "X", 2.5, None, 9.75, None, 3.0, 4.0))],
        "vib.waveform": [
            tuple(Waveform(T_UTC, 5, "Z", 25600.0, None, "m/s2", [0.5 * i for i in range(4096)]))
        ],
        "ts.device_health": [tuple(DeviceHealth(T_CST, "gateway", 9, False, None, -71.0))],
        "ingest.quarantine": [
            (r.source, r.origin, r.position, r.reason, r.raw)
            for r in [Rejected("mqtt", "bad json", "{oops", "plant/1", None)]
        ],
    }


def test_every_row_type_round_trips(tmp_path: Path) -> None:
    rows_by_table = _types_rows()
    with Spool(tmp_path / "s.sqlite") as spool:
        for table, rows in rows_by_table.items():
            spool.append(table, rows)
    with Spool(tmp_path / "s.sqlite") as spool:
        back = {b.target: b.rows for b in spool}
    assert back == rows_by_table
    # Same instants *and* same zones, not just equal instants.
    sample_times = [r[0] for r in back["ts.sample"]]
    assert sample_times[0].tzinfo is UTC
    assert sample_times[1].tzinfo is SHANGHAI
    assert back["alarm.event"][0][0].utcoffset() == timedelta(hours=-5, minutes=-30)
    assert back["ts.sample"][1][2] is None
    assert type(back["vib.waveform"][0][6]) is list


def test_named_tuples_and_subclasses_are_stored_as_plain_values() -> None:
    class MyFloat(float):
        pass

    rows = decode_rows(encode_rows([Sample(T_UTC, 1, MyFloat(2.5)), (Decimal("1.25"), True)]))
    assert rows == [(T_UTC, 1, 2.5, 192), (Decimal("1.25"), True)]
    assert type(rows[0]) is tuple and type(rows[0][2]) is float
    # NumPy scalars, as analytics code hands them over (the database path accepts them too).
    row = (np.float32(0.5), np.int16(7), np.bool_(True), [np.float64(1.5), np.float32(2.0)])
    assert decode_rows(encode_rows([row])) == [(0.5, 7, True, [1.5, 2.0])]
    assert [type(v) for v in decode_rows(encode_rows([row]))[0][:3]] == [float, int, bool]


def test_refuses_what_is_not_plain_data(tmp_path: Path) -> None:
    with pytest.raises(SpoolEncodeError, match="object"):
        encode_rows([(T_UTC, object())])
    assert unspoolable([(1,), (object(),), ("ok",), (_Evil(),)]) == [
        (1, "value cannot be spooled: builtins.object"),
        (3, "value cannot be spooled: tests.ingest.test_spool._Evil"),
    ]
    with Spool(tmp_path / "s.sqlite") as spool:
        with pytest.raises(SpoolEncodeError):
            spool.append("ts.sample", [(T_UTC, object())])
        assert spool.rows == 0  # nothing half-written


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_loading_never_runs_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = pickle.dumps([(_Evil(),)])
    with pytest.raises(SpoolDecodeError, match=r"builtins\.print is not allowed"):
        decode_rows(evil)
    # A tampered or corrupt file: the bad batch comes back flagged, the next ones normally.
    path = tmp_path / "s.sqlite"
    with Spool(path) as spool:
        spool.append("ts.sample", [(T_UTC, 1, 1.0, 192)])
        spool.append("ts.sample", [(T_UTC, 2, 2.0, 192)])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE batch SET data = ? WHERE id = 1", (evil,))
    with Spool(path) as spool:
        first = spool.first()
        assert first is not None and first.rows == [] and first.raw == evil
        assert first.error is not None and "not allowed" in first.error
        spool.delete(first.id)
        second = spool.first()
        assert second is not None and second.rows == [(T_UTC, 2, 2.0, 192)]
    assert "pwned" not in capsys.readouterr().out
