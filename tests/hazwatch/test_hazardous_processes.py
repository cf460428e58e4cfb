"""The key-parameter lists of the supervised hazardous processes (R2) against the published
texts (migrations 0026 and 0027, docs/hazard-monitoring.md "Process parameter lists: sources").

The expected lists below split the text's sentences into one measurable quantity per row, in
the text's order and wording (a subject named once for several quantities is repeated). The
quoted sentences come from published copies of 《首批重点监管的危险化工工艺安全控制要求、重点
监控参数及推荐的控制方案》(安监总管三〔2009〕116号) and of the annex of 安监总管三〔2013〕3号:

- 1 光气: https://www.39baobao.com/show/39_132586.html
- 2 电解（氯碱）: https://m.examw.com/aq/anli/fudao/917829
- 4 硝化: http://www.5252w.com/huagongAnquan/zhongdiangongyi/zhongdiangongyi_read_KS.asp?nameid=4
- 18 偶氮化: http://www.5252w.com/huagongAnquan/zhongdiangongyi/zhongdiangongyi_read_KS.asp?nameid=18
- 12 胺基化 (0027): http://www.830687.com/exam/detail-5180368.html (list and 安全控制的基本要求),
  same list at http://www.jantom.com.cn/x-gas_Article_11339623.html
- 13 磺化 (0027): http://www.jantom.com.cn/x-gas_Article_11339631.html

The 0027 copies are in traditional characters; the quotes below are their simplified form.
"""

from __future__ import annotations

import psycopg
import pytest

from hazwatch.db.migrate import SQL_DIR, migrate
from tests.conftest import create_database, drop_database

#: Process id -> (the text's 重点监控工艺参数 sentence, the rows it becomes).
PUBLISHED: dict[int, tuple[str, list[str]]] = {
    1: (
        "一氧化碳、氯气含水量；反应釜温度、压力；反应物质的配料比；光气进料速度；冷却系统中冷却"
        "介质的温度、压力、流量等。",
        ["一氧化碳含水量", "氯气含水量", "反应釜温度", "反应釜压力", "反应物质的配料比",
         "光气进料速度", "冷却系统中冷却介质的温度", "冷却系统中冷却介质的压力",
         "冷却系统中冷却介质的流量"],
    ),
    2: (
        "电解槽内液位；电解槽内电流和电压；电解槽进出物料流量；可燃和有毒气体浓度；电解槽的温度"
        "和压力；原料中铵含量；氯气杂质含量（水、氢气、氧气、三氯化氮等）等。",
        ["电解槽内液位", "电解槽内电流", "电解槽内电压", "电解槽进出物料流量",
         "可燃和有毒气体浓度", "电解槽的温度", "电解槽的压力", "原料中铵含量",
         "氯气杂质含量（水、氢气、氧气、三氯化氮等）"],
    ),
    4: (
        "硝化反应釜内温度、搅拌速率；硝化剂流量；冷却水流量；pH值；硝化产物中杂质含量；精馏分离"
        "系统温度；塔釜杂质含量等。",
        ["硝化反应釜内温度", "硝化反应釜内搅拌速率", "硝化剂流量", "冷却水流量", "pH值",
         "硝化产物中杂质含量", "精馏分离系统温度", "塔釜杂质含量"],
    ),
    12: (
        "(1)胺基化反应釜内温度、压力。(2)胺基化反应釜内搅拌速率。(3)物料流量。(4)反应物质的"
        "配料比。(5)气相氧含量等。",
        ["胺基化反应釜内温度", "胺基化反应釜内压力", "胺基化反应釜内搅拌速率", "物料流量",
         "反应物质的配料比", "气相氧含量"],
    ),
    13: (
        "磺化反应釜内温度；磺化反应釜内搅拌速率；磺化剂流量；冷却水流量。",
        ["磺化反应釜内温度", "磺化反应釜内搅拌速率", "磺化剂流量", "冷却水流量"],
    ),
    18: (
        "(1)偶氮化反应釜内温度、压力、液位、pH。(2)偶氮化反应釜内搅拌速率。(3)肼流量。(4)反应"
        "物质的配料比。(5)后处理单元温度等。",
        ["偶氮化反应釜内温度", "偶氮化反应釜内压力", "偶氮化反应釜内液位", "偶氮化反应釜内pH值",
         "偶氮化反应釜内搅拌速率", "肼流量", "反应物质的配料比", "后处理单元温度"],
    ),
}  # fmt: skip


def _parameters(conn: psycopg.Connection, process_id: int) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM registry.process_parameter WHERE process_id = %s ORDER BY ord, id",
        (process_id,),
    ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("process_id", sorted(PUBLISHED))
def test_checked_parameter_lists_are_the_published_ones(
    conn: psycopg.Connection, process_id: int
) -> None:
    sentence, expected = PUBLISHED[process_id]
    assert _parameters(conn, process_id) == expected, sentence
    source = conn.execute(
        "SELECT checked_against FROM registry.hazardous_process WHERE id = %s", (process_id,)
    ).fetchone()
    assert source is not None and source[0].startswith("http"), "the source address is stored"


def test_phosgene_monitors_water_content_not_content(conn: psycopg.Connection) -> None:
    """The one substantive error of 0023: the text monitors the water content of CO and Cl2."""
    names = set(_parameters(conn, 1))
    assert {"一氧化碳含水量", "氯气含水量"} <= names
    assert not names & {"一氧化碳含量", "氯气含量"}


def test_control_texts_and_unchecked_processes(conn: psycopg.Connection) -> None:
    rows = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT id, control_requirements, control_methods, checked_against"
            " FROM registry.hazardous_process ORDER BY id"
        )
    }
    assert len(rows) == 18
    req, methods, _ = rows[1]
    assert req.startswith("事故紧急切断阀；紧急冷却系统；") and req.endswith("双电源供电。")
    assert "开启氨水、稀碱液喷淋" in methods and methods.endswith("排至处理系统。")
    assert rows[18][0].startswith("(1)反应釜温度和压力的报警和联锁。")
    assert "惰性气体保护" in rows[18][0]
    # 12 胺基化 (0027): the requirements in full, the methods cut off in every copy found.
    req, methods, source = rows[12]
    assert req.startswith("(1)反应釜温度和压力的报警和联锁。")
    assert "(5)紧急送入惰性气体的系统。" in req
    assert req.endswith("(8)可燃和有毒气体检测报警装置等。")
    assert methods is None and source.startswith("http://www.830687.com/")
    # 13 磺化 (0027): list checked, the copy's control texts masked and cut off.
    assert rows[13][:2] == (None, None) and rows[13][2].startswith("http://www.jantom.com.cn/")
    # Not found in a readable copy: left as 0023 entered them, marked unchecked, no text.
    for pid in (3, 5, 6, 7, 8, 9, 10, 11, 14, 15, 16, 17):
        assert rows[pid] == (None, None, None), pid


def _point_on(
    conn: psycopg.Connection, process_id: int, parameter: str, enterprise: str
) -> tuple[dict[str, int], int]:
    """A hazard point of a new enterprise's unit on ``parameter`` of ``process_id``; returns
    the process's parameter ids by name as they were before the migration under test, and the
    point's tag id."""
    old = dict(
        conn.execute(
            "SELECT name, id FROM registry.process_parameter WHERE process_id = %s",
            (process_id,),
        ).fetchall()
    )
    region = conn.execute("SELECT id FROM registry.region LIMIT 1").fetchone()
    assert region is not None
    ent = conn.execute(
        "INSERT INTO registry.enterprise (name, region_id) VALUES (%s, %s) RETURNING id",
        (enterprise, region[0]),
    ).fetchone()[0]  # type: ignore[index]
    unit = conn.execute(
        "INSERT INTO registry.unit (enterprise_id, code, name) VALUES (%s, 'U-1', %s) RETURNING id",
        (ent, enterprise),
    ).fetchone()[0]  # type: ignore[index]
    tag = conn.execute(
        "INSERT INTO registry.tag (enterprise_id, name) VALUES (%s, 'AI-KEY-1') RETURNING id",
        (ent,),
    ).fetchone()[0]  # type: ignore[index]
    conn.execute(
        "INSERT INTO registry.hazard_point (unit_id, tag_id, role, parameter_id)"
        " VALUES (%s, %s, 'key_parameter', %s)",
        (unit, tag, old[parameter]),
    )
    return old, tag


def test_renames_keep_the_points_that_use_them(admin_url: str) -> None:
    """A hazard point on a renamed parameter keeps it (same id, new name); a name an
    administrator already corrected by hand is left alone, the migration does not fail."""
    url = create_database(admin_url, "hw_params")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn, SQL_DIR, target=23)
            old, tag = _point_on(conn, 1, "一氧化碳含量", "参数迁移")
            # An administrator already added the corrected chlorine row by hand.
            conn.execute(
                "INSERT INTO registry.process_parameter (process_id, ord, name)"
                " VALUES (1, 20, '氯气含水量')"
            )
            migrate(conn, SQL_DIR, target=26)
            point = conn.execute(
                "SELECT pp.id, pp.name FROM registry.hazard_point h"
                " JOIN registry.process_parameter pp ON pp.id = h.parameter_id WHERE h.tag_id = %s",
                (tag,),
            ).fetchone()
            assert point == (old["一氧化碳含量"], "一氧化碳含水量")
            names = _parameters(conn, 1)
            assert "氯气含量" in names and names.count("氯气含水量") == 1
            assert "冷却系统中冷却介质的流量" in names
    finally:
        drop_database(admin_url, url)


def test_the_risk_page_shows_the_control_texts(conn: psycopg.Connection) -> None:
    """/hazard shows a process unit's published control texts (a folded block per process);
    a process without them (氯化, not yet checked) adds nothing."""
    from dashboards.pages import hazard_units as page
    from workflows.hazard_units import UnitState, UnitView

    def unit(code: str, processes: list[str]) -> UnitView:
        state = UnitState("normal", "none")
        return UnitView(1, 1, "甲", code, code, "unit", None, None, processes, [], state)

    controls = page.load_controls(conn)
    assert set(controls) == {"光气及光气化工艺", "电解工艺（氯碱）", "胺基化工艺", "偶氮化工艺"}
    tree = str(page.content([unit("P-1", ["光气及光气化工艺"]), unit("C-1", ["氯化工艺"])],
                            controls))  # fmt: skip
    assert tree.count("hz-controls") == 1
    assert "双电源供电" in tree and "启动通风排毒系统" in tree and "安全控制的基本要求" in tree


def test_0027_renames_keep_points_and_fill_gaps(admin_url: str) -> None:
    """0027 renames 胺基化/磺化 rows in place (a point keeps its row); a published quantity an
    administrator had renamed away is added back; a control text already entered is kept."""
    url = create_database(admin_url, "hw_params27")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn, SQL_DIR, target=26)
            old, tag = _point_on(conn, 12, "胺基化反应釜搅拌速率", "胺化迁移")
            # An administrator renamed the 磺化 stirring row to a wording of their own and
            # entered a requirements text for 磺化 by hand.
            conn.execute(
                "UPDATE registry.process_parameter SET name = '磺化釜搅拌电流'"
                " WHERE process_id = 13 AND name = '磺化反应釜搅拌速率'"
            )
            conn.execute(
                "UPDATE registry.hazardous_process SET control_requirements = '本厂补录'"
                " WHERE id = 13"
            )
            migrate(conn, SQL_DIR, target=27)
            point = conn.execute(
                "SELECT pp.id, pp.name FROM registry.hazard_point h"
                " JOIN registry.process_parameter pp ON pp.id = h.parameter_id WHERE h.tag_id = %s",
                (tag,),
            ).fetchone()
            assert point == (old["胺基化反应釜搅拌速率"], "胺基化反应釜内搅拌速率")
            assert _parameters(conn, 12) == PUBLISHED[12][1]
            names = _parameters(conn, 13)
            assert "磺化釜搅拌电流" in names and names.count("磺化反应釜内搅拌速率") == 1
            row = conn.execute(
                "SELECT control_requirements, checked_against FROM registry.hazardous_process"
                " WHERE id = 13"
            ).fetchone()
            assert row is not None and row[0] == "本厂补录" and row[1].endswith("11339631.html")
    finally:
        drop_database(admin_url, url)
