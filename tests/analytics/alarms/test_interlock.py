"""A12 interlock / trip statistics on a hand-written log (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics.alarms.interlock import precursors, trip_stats, trips_per_period
from tests.analytics.alarms.analysis_fixtures import TAG_IDS, at, rec


def log() -> list:
    """Seconds after T0 (2026-03-02 00:00 UTC = 08:00 China Standard Time).

    K.TRIP 1000 (acked 1010, returned 1600) and 5000 (acked 5040, still active at 6000);
    S.HH 3000 (returned 3100) is an interlock by the ledger (is_interlock);
    S.H 2990 is not (only its HH is); A.H 700, B.H 950, 4800, 4900, C.H 200; an excluded
    K.TRIP at 5500 does not count.
    """
    return [
        rec("K", "TRIP", 1000, acked=1010, returned=1600),
        rec("K", "TRIP", 5000, acked=5040),
        rec("K", "TRIP", 5500, excluded=True),
        rec("S", "HH", 3000, returned=3100),
        rec("S", "H", 2990, returned=3200),
        rec("A", "H", 700),
        rec("B", "H", 950),
        rec("B", "H", 4800),
        rec("B", "H", 4900),
        rec("C", "H", 200),
    ]


def keys() -> set[tuple[int, str]]:
    log()  # tag ids are given out on first use
    return {(TAG_IDS["S"], "HH")}


def test_trip_counts_durations_and_acks() -> None:
    """K.TRIP: 2 trips, active 600 s + 1000 s (to the end, 6000 s) = 1600 s, mean 800 s,
    1 acknowledged within 30 s (10 s; 40 s is late). S.HH: 1 trip, 100 s. S.H is no trip."""
    stats = trip_stats(log(), keys(), end=at(6000))
    assert [(s.key, s.trips, s.active_s, s.mean_active_s, s.acked_30s) for s in stats] == [
        ("K.TRIP", 2, 1600.0, 800.0, 1),
        ("S.HH", 1, 100.0, 100.0, 0),
    ]
    assert stats[0].first == at(1000) and stats[0].last == at(5000)


def test_precursors_of_trips() -> None:
    """Lead 600 s. Trip at 1000: A.H (300 s before), B.H (50 s); C.H is 800 s before.
    Trip at 5000: B.H at 4800 and 4900, nearest 100 s. So B.H precedes 2 of 2 trips, mean
    lead (50 + 100) / 2 = 75 s; A.H 1 of 2, 300 s. S.HH at 3000 has none in 2400..3000 but
    S.H at 2990 (10 s)."""
    pre = precursors(log(), keys(), lead=timedelta(seconds=600))
    k = pre["K.TRIP"]
    assert [(p.key, p.trips, p.share, p.mean_lead_s) for p in k] == [
        ("B.H", 2, 1.0, 75.0),
        ("A.H", 1, 0.5, 300.0),
    ]
    assert [(p.key, p.trips) for p in pre["S.HH"]] == [("S.H", 1)]


def test_trips_per_plant_day() -> None:
    """Days of China Standard Time: 15:59 UTC is still 2026-03-02 (23:59), 16:00 UTC is
    2026-03-03. Three trips of the log plus these two."""
    recs = [*log(), rec("K", "TRIP", 57540), rec("K", "TRIP", 57600)]
    assert trips_per_period(recs, keys(), period="day") == {"2026-03-02": 4, "2026-03-03": 1}
    assert trips_per_period(recs, keys(), period="month") == {"2026-03": 5}
    with pytest.raises(ValueError, match="period"):
        trips_per_period(recs, keys(), period="week")
