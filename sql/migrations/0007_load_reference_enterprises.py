"""R1: load every enterprise named in the annexes of notice 004 (晋应急发〔2021〕247号).

The rows come from ``sql/data/r1_enterprises.csv``, generated from the notice by
``python -m hazwatch.refdata`` (names exactly as written, deduplicated across annexes). An
enterprise with no city in the annexes (the two central-SOE group entries of annex 4) is placed
at province level. ``晋应急发`` annex 4 also lists 晋中市应急局, a city emergency bureau: it is
a regulator, not an enterprise, and is not loaded here.
"""

from pathlib import Path

import psycopg

from hazwatch.refdata import read_csv

NOT_ENTERPRISES = frozenset({"晋中市应急局"})


def migrate(conn: psycopg.Connection) -> None:
    csv_path = Path(__file__).resolve().parents[1] / "data" / "r1_enterprises.csv"
    regions = dict(conn.execute("SELECT name, id FROM registry.region").fetchall())
    province = conn.execute(
        "SELECT id FROM registry.region WHERE level = 'province' AND code = '140000'"
    ).fetchone()
    assert province is not None, "0006_load_regions must run first"
    with conn.cursor() as cur:
        for ent in read_csv(csv_path):
            if ent.name in NOT_ENTERPRISES:
                continue
            region_id = regions[ent.city] if ent.city else province[0]
            cur.execute(
                "INSERT INTO registry.enterprise (name, region_id, batch, deployments,"
                " is_reference) VALUES (%s, %s, %s, %s, true)",
                (ent.name, region_id, ent.batch, list(ent.deployments)),
            )
