"""Tests of hazwatch.refdata against the committed copy of 晋应急发〔2021〕247号.

Expected numbers below were read off the document by hand (see line numbers in comments).
"""

import doctest
import hashlib
from pathlib import Path

import pytest

from hazwatch import refdata
from hazwatch.refdata import (
    AnnexRow,
    ReferenceEnterprise,
    conflicts,
    load_reference_enterprises,
    merge_enterprises,
    parse_annex_rows,
    read_csv,
    write_csv,
)

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "sql" / "data" / "source" / "004_risk_warning_notice.txt"
CSV_PATH = REPO / "sql" / "data" / "r1_enterprises.csv"
SEED = REPO.parent / "shared" / "seeds" / "004_6be33450dcf1a0ed.txt"
SOURCE_SHA256 = "e7daa2e19ff9717b85f9f2b013d82725b2fba7ae2ebfe27bae873d6ec572a3f8"


@pytest.fixture(scope="module")
def rows() -> list[AnnexRow]:
    return parse_annex_rows(SOURCE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def by_name(rows: list[AnnexRow]) -> dict[str, ReferenceEnterprise]:
    return {e.name: e for e in merge_enterprises(rows)}


def test_source_copy_is_the_seed() -> None:
    data = SOURCE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SOURCE_SHA256
    assert len(data) == 30150
    if SEED.exists():
        assert SEED.read_bytes() == data


def test_row_count_per_annex_equals_last_seq(rows: list[AnnexRow]) -> None:
    counts = {a: sum(1 for r in rows if r.annex == a) for a in (1, 2, 3, 4)}
    last_seq = {a: max(r.seq for r in rows if r.annex == a) for a in (1, 2, 3, 4)}
    # 附件1 ends with 序号182 (line 982), 附件2 with 109 (line 1441), 附件3 with 10
    # (line 1485), 附件4 with 68 (line 1768).
    assert counts == {1: 182, 2: 109, 3: 10, 4: 68}
    assert last_seq == counts
    for annex in (1, 2, 3, 4):
        assert [r.seq for r in rows if r.annex == annex] == list(range(1, counts[annex] + 1))


def test_rows_are_in_document_order(rows: list[AnnexRow]) -> None:
    assert rows[0] == AnnexRow(1, 1, "中国航油集团山西石油有限公司", "太原市", "二期", "太原市")
    assert rows[0].line == 77
    assert rows[-1] == AnnexRow(
        4, 68, "山西压缩天然气集团运城有限公司盐湖区液化分公司", "运城市", None
    )
    assert [r.line for r in rows] == sorted(r.line or 0 for r in rows)


def test_blank_region_carries_forward(rows: list[AnnexRow]) -> None:
    # 附件1 序号2 (lines 82-85): empty 区域 cell under 序号1 太原市.
    row = next(r for r in rows if r.annex == 1 and r.seq == 2)
    assert row == AnnexRow(1, 2, "中国航空油料有限责任公司山西分公司", "太原市", "二期", None)
    # 附件1 序号45 is the last 长治市 row, 序号46 starts 晋城市 explicitly (line 303).
    assert next(r for r in rows if r.annex == 1 and r.seq == 45).city == "长治市"
    assert next(r for r in rows if r.annex == 1 and r.seq == 46).region == "晋城市"
    # 附件4 序号3 (line 1508): blank 地市/区域 under 忻州市.
    row = next(r for r in rows if r.annex == 4 and r.seq == 3)
    assert (row.name, row.region, row.city) == ("山西道生鑫宇清洁能源有限公司", None, "忻州市")
    # 附件3 has no 区域 column at all.
    assert all(
        r.city is None and r.region is None and r.batch is None for r in rows if r.annex == 3
    )


def test_non_city_regions_are_kept_raw(rows: list[AnnexRow]) -> None:
    odd = [
        (r.annex, r.seq, r.region, r.city, r.name) for r in rows if r.region in {"中石化", "中石油"}
    ]
    assert odd == [(4, 13, "中石化", None, "中石化集团"), (4, 46, "中石油", None, "中石油集团")]
    assert {r.city for r in rows} <= {*refdata.SHANXI_CITIES, None}


def test_name_in_several_annexes_merged_once(rows: list[AnnexRow]) -> None:
    # 山西永鑫煤焦化有限责任公司: 附件1 序号152, 附件2 序号79, 附件3 序号8, 附件4 序号12.
    name = "山西永鑫煤焦化有限责任公司"
    assert sorted((r.annex, r.seq) for r in rows if r.name == name) == [
        (1, 152),
        (2, 79),
        (3, 8),
        (4, 12),
    ]
    merged = [e for e in merge_enterprises(rows) if e.name == name]
    assert merged == [
        ReferenceEnterprise(
            name,
            "临汾市",
            "一期",
            ("visual_comm", "video_analysis", "oblique_3d", "video_gateway", "extended_access"),
        )
    ]


def test_merge_totals(by_name: dict[str, ReferenceEnterprise]) -> None:
    enterprises = list(by_name.values())
    assert len(enterprises) == 197
    assert all(e.deployments[-1] == "extended_access" for e in enterprises)
    assert sum(e.batch == "一期" for e in enterprises) == 71
    assert sum(e.batch == "二期" for e in enterprises) == 111
    # Only annex-3/annex-4 names without a city: one annex-3 spelling and the two groups.
    assert sorted(e.name for e in enterprises if e.city is None) == sorted(
        ["山西潞安煤基清洁能源有限公司", "中石化集团", "中石油集团"]
    )


def test_names_kept_exactly_as_written(by_name: dict[str, ReferenceEnterprise]) -> None:
    # Full-width brackets, 附件1 序号144 (line 794).
    assert "山西省襄汾县宏源煤焦化工有限公司（二车间）" in by_name
    assert not any("(" in name or ")" in name or " " in name for name in by_name)
    # Variants are not merged: 附件4 序号40 adds a plant suffix to 附件1 序号175.
    assert by_name["山西信发化工有限公司（氯碱厂）"].deployments == (
        "video_gateway",
        "extended_access",
    )
    assert by_name["山西信发化工有限公司"].deployments == (
        "visual_comm",
        "video_analysis",
        "extended_access",
    )


def test_known_variants_and_non_enterprises_occur(by_name: dict[str, ReferenceEnterprise]) -> None:
    for variant, canonical in refdata.KNOWN_NAME_VARIANTS.items():
        assert variant in by_name
        assert canonical in by_name
        assert "visual_comm" in by_name[canonical].deployments
    assert by_name.keys() >= refdata.NON_ENTERPRISE_NAMES


def test_document_has_no_city_or_batch_conflicts(rows: list[AnnexRow]) -> None:
    assert conflicts(rows) == []


def test_conflicts_are_reported_and_first_annex_wins() -> None:
    rows = [
        AnnexRow(1, 1, "甲公司", "太原市", "一期", "太原市"),
        AnnexRow(4, 2, "甲公司", "大同市", None, "大同市"),
        AnnexRow(4, 3, "乙公司", "大同市", None, None),
        AnnexRow(4, 4, "乙公司", "大同市", None, None),
    ]
    assert conflicts(rows) == [
        "甲公司: city differs: 附件1 序号1 太原市; 附件4 序号2 大同市; "
        "kept 太原市 (first annex wins)",
        "乙公司: listed more than once in 附件4 (序号 3, 4)",
    ]
    merged = merge_enterprises(reversed(rows))
    assert merged[1] == ReferenceEnterprise(
        "甲公司", "太原市", "一期", ("visual_comm", "video_gateway", "extended_access")
    )


def _table(*rows: tuple[str, ...]) -> str:
    header = "附件1\n可视化通信部署企业名单：\n\t序号\n\t区域\n\t企业名称\n\t建设批次\n"
    header += "\n\t\n\t\n\t\n\t\n"  # spacer row of empty cells, as in the document
    body = "".join("\n" + "".join(f"\t{cell}\n" for cell in row) for row in rows)
    return header + body + "\n\n附件5\n扩展接入范围部署指导要求\n"


def test_synthetic_table_parses() -> None:
    text = _table(("1", "太原市", "甲公司", "一期企业"), ("2", "", "乙公司", "二期企业"))
    assert parse_annex_rows(text) == [
        AnnexRow(1, 1, "甲公司", "太原市", "一期", "太原市"),
        AnnexRow(1, 2, "乙公司", "太原市", "二期", None),
    ]


def test_gap_in_seq_raises_helpful_error() -> None:
    text = _table(
        ("1", "太原市", "甲公司", "一期企业"),
        ("2", "", "乙公司", "二期企业"),
        ("4", "", "丙公司", "二期企业"),
    )
    with pytest.raises(ValueError, match=r"附件1: 序号 must run 1\.\.N") as info:
        parse_annex_rows(text)
    assert "expected 3 but found 4 at line 23 (丙公司)" in str(info.value)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("1", "太原市", "甲公司"), "row has 3 cells but the header has 4"),
        (("1", "太原县", "甲公司", "一期企业"), "region cell '太原县'"),
        (("1", "", "甲公司", "一期企业"), "first row has an empty 区域 cell"),
        (("1", "太原市", "甲公司", "三期企业"), "建设批次 '三期企业'"),
        (("一", "太原市", "甲公司", "一期企业"), "序号 '一' is not a number"),
    ],
)
def test_malformed_rows_raise(row: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_annex_rows(_table(row))


def test_committed_csv_matches_source(tmp_path: Path) -> None:
    expected = load_reference_enterprises(SOURCE)
    assert read_csv(CSV_PATH) == expected
    regenerated = tmp_path / "r1_enterprises.csv"
    assert refdata.main([str(SOURCE), str(regenerated)]) == 0
    assert regenerated.read_bytes() == CSV_PATH.read_bytes()
    assert CSV_PATH.read_text(encoding="utf-8").splitlines()[0] == "name,city,batch,deployments"


def test_csv_round_trip_of_empty_fields(tmp_path: Path) -> None:
    items = [
        ReferenceEnterprise('名称,带"引号"', None, None, ("oblique_3d", "extended_access")),
        ReferenceEnterprise("乙公司", "吕梁市", "二期", ("visual_comm", "extended_access")),
    ]
    path = tmp_path / "x.csv"
    write_csv(items, path)
    assert path.read_text(encoding="utf-8").splitlines()[1] == (
        '"名称,带""引号""",,,oblique_3d;extended_access'
    )
    assert read_csv(path) == items


def test_docstring_examples() -> None:
    result = doctest.testmod(refdata)
    assert result.failed == 0
    assert result.attempted >= 5
