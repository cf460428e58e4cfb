"""Pure tests of the register files (D4): CSV with BOM, GBK CSV as Excel writes it on Chinese
Windows, XLSX, blank lines, duplicate codes, formula guards; cell parsing and the credit-code
check digit (GB 32100-2015)."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook

from dashboards.register_specs import SPECS, Column, can_edit, parse_cell
from dashboards.registers_io import (
    FileError,
    decode_csv,
    export_table,
    read_table,
    write_csv,
    write_errors_csv,
    write_xlsx,
)
from hazwatch.credit_code import check_character, credit_code_error

UNIT = SPECS["unit"]
VALID_CODE = "91350100M000100Y43"  # the standard's own example


def test_credit_code_check_digit() -> None:
    assert credit_code_error(VALID_CODE) is None
    assert check_character(VALID_CODE[:17]) == "3"
    assert credit_code_error(VALID_CODE[:17] + "4") == "check digit should be 3, not 4"
    assert "18 characters" in (credit_code_error("9135") or "")
    assert "O" in (credit_code_error("91350100M0O0100Y43") or "")
    assert "division" in (credit_code_error("9135A100M000100Y43") or "")


def test_credit_code_cell_is_normalised_and_checked_in_chinese() -> None:
    col = SPECS["contractor_company"].column("credit_code")
    assert parse_cell(col, " 91350100m000100y43 ") == (VALID_CODE, None)
    _, error = parse_cell(col, "91350100M000100Y44")
    assert error == "统一社会信用代码校验位错误：应为 3，实为 4"


@pytest.mark.parametrize(
    ("col", "raw", "expected"),
    [
        (Column("port", "int"), "502", (502, None)),
        (Column("port", "int"), "1,024", (1024, None)),
        (Column("x", "float"), "2.5", (2.5, None)),
        (Column("d", "date"), "2026/03/01", (date(2026, 3, 1), None)),
        (Column("b", "bool"), "是", (True, None)),
        (Column("b", "bool"), False, (False, None)),
        (UNIT.column("kind"), "罐区", ("tank_farm", None)),
        (UNIT.column("kind"), "tank farm", ("tank_farm", None)),
        (UNIT.column("major_hazard_level"), "2", (2, None)),
        (UNIT.column("code"), "  ", (None, "必填")),
        (UNIT.column("hazard_code"), "", (None, None)),
        (SPECS["equipment"].column("pump_scope"), "液化烃/C5、急性毒性 1/2 类",
         (["liquefied_hydrocarbon_c5", "acute_toxicity_1_2"], None)),
        (SPECS["equipment"].column("pump_scope"), "", ([], None)),
    ],
)  # fmt: skip
def test_parse_cell(col: Column, raw: object, expected: tuple[object, str | None]) -> None:
    assert parse_cell(col, raw) == expected


def test_parse_cell_errors_name_the_value() -> None:
    assert parse_cell(Column("port", "int"), "5.5")[1] == "“5.5”不是整数"
    assert parse_cell(Column("d", "date"), "tomorrow")[1] == "“tomorrow”不是日期（YYYY-MM-DD）"
    error = parse_cell(UNIT.column("kind"), "厂房")[1]
    assert error is not None and error.startswith("“厂房”不是可选值：装置、工段")
    period = SPECS["shift"].column("during")
    value, error = parse_cell(period, "2026-11-22 08:00 ~ 2026-11-22 16:00")
    assert error is None and value.lower.hour == 8 and value.upper.hour == 16
    assert parse_cell(period, "2026-11-22 16:00 ~ 2026-11-22 08:00")[1] == "结束时间须晚于开始时间"


def _unit_csv() -> str:
    return (
        "企业,编码,名称,类型\n"
        "甲公司,U100,常减压装置,装置\n"
        "\n"  # blank line: skipped, numbering continues
        "甲公司,U200,罐区一,罐区\n"
        ",,,\n"
        "甲公司,U100,重复,装置\n"
    )


def test_csv_with_bom_blank_lines_and_duplicates() -> None:
    table = read_table(_unit_csv().encode("utf-8-sig"), "units.csv", UNIT)
    assert table.columns == ["enterprise_id", "code", "name", "kind"]
    assert [n for n, _ in table.rows] == [2, 4]
    assert table.rows[0][1] == {
        "enterprise_id": "甲公司",
        "code": "U100",
        "name": "常减压装置",
        "kind": "装置",
    }
    assert table.errors == [(6, "编码", "与第 2 行重复")]


def test_gbk_csv_from_excel_on_chinese_windows() -> None:
    data = _unit_csv().encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert decode_csv(data).startswith("企业,编码")
    table = read_table(data, "UNITS.CSV", UNIT)
    assert table.rows[1][1]["name"] == "罐区一"


def test_semicolon_csv_and_english_headers() -> None:
    text = "Enterprise;Code;Name;Kind\n甲公司;U9;Test;unit\n"
    table = read_table(text.encode(), "u.csv", UNIT)
    assert table.rows == [(2, {"enterprise_id": "甲公司", "code": "U9", "name": "Test",
                               "kind": "unit"})]  # fmt: skip


def test_unknown_columns_and_empty_files_are_reported() -> None:
    table = read_table("编码,颜色\nU1,红\n".encode(), "u.csv", UNIT)
    assert (1, "颜色", "未知列“颜色”") in table.errors
    assert table.rows == [(2, {"code": "U1"})]
    empty = read_table(b"\xef\xbb\xbf\n\n", "u.csv", UNIT)
    assert empty.errors == [(1, "", "文件中没有数据行")]
    with pytest.raises(FileError, match=r"\.csv"):
        read_table(b"x", "units.pdf", UNIT)
    with pytest.raises(FileError, match="xlsx"):
        read_table(b"not a zip", "units.xlsx", UNIT)


def test_xlsx_cells_become_text() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["企业", "编码", "名称", "类型", "重大危险源等级"])
    ws.append([None, None, None, None, None])
    ws.append(["甲公司", 100, "装置", "装置", 2.0])
    buf = io.BytesIO()
    wb.save(buf)
    table = read_table(buf.getvalue(), "u.xlsx", UNIT)
    assert table.errors == []
    assert table.rows == [
        (3, {"enterprise_id": "甲公司", "code": "100", "name": "装置", "kind": "装置",
             "major_hazard_level": "2"})
    ]  # fmt: skip


def test_xlsx_dates() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["企业", "设备", "编码", "名称", "类型", "安装日期"])
    ws.append(["甲", "U1", "P1", "泵", "泵", datetime(2024, 5, 6)])
    buf = io.BytesIO()
    wb.save(buf)
    spec = SPECS["equipment"]
    table = read_table(buf.getvalue(), "e.xlsx", spec)
    assert table.errors == [(1, "设备", "未知列“设备”")]
    assert table.rows[0][1]["installed_on"] == "2024-05-06"


def test_export_then_read_back_round_trips_in_both_formats() -> None:
    rows = [
        {"enterprise_id": "甲公司", "code": "U1", "name": "=HYPERLINK(\"x\")", "kind": "装置",
         "department_id": "", "parent_id": "", "hazard_code": "-1", "hazardous_process": "",
         "major_hazard_level": "一级"},
    ]  # fmt: skip
    headers, body = export_table(UNIT, rows)
    assert headers[:3] == ["企业", "编码", "名称"]
    assert body[0][2] == '\'=HYPERLINK("x")'  # never a formula in Excel
    csv_bytes = write_csv(headers, body)
    assert csv_bytes.startswith(b"\xef\xbb\xbf")
    xlsx = write_xlsx(headers, body, "装置")
    sheet = load_workbook(io.BytesIO(xlsx)).active
    assert sheet is not None and sheet.title == "装置"
    assert sheet.cell(2, 3).data_type == "s"
    for data, name in ((csv_bytes, "u.csv"), (xlsx, "u.xlsx")):
        table = read_table(data, name, UNIT)
        assert table.errors == []
        ((number, cells),) = table.rows
        assert number == 2 and cells["name"] == '=HYPERLINK("x")' and cells["hazard_code"] == "-1"
        assert cells["enterprise_id"] == "甲公司"


def test_bool_columns_export_as_yes_no_and_read_back() -> None:
    camera = SPECS["camera"]
    headers, body = export_table(camera, [{"code": "C1", "enabled": True}])
    assert body[0][headers.index("启用")] == "是"
    assert parse_cell(camera.column("enabled"), "否") == (False, None)


def test_error_report_csv() -> None:
    data = write_errors_csv([(3, "编码", "必填")])
    assert data.decode("utf-8-sig").splitlines() == ["行,列,错误", "3,编码,必填"]


class _User:
    def __init__(self, role: str, enterprise_id: int | None = None) -> None:
        self.role = role
        self.enterprise_id = enterprise_id

    @property
    def scope(self) -> object:
        from dashboards.auth import Scope

        return Scope.for_user(self.role, self.enterprise_id, None)


@pytest.mark.parametrize(
    ("role", "register", "editable"),
    [
        ("admin", "region", True),
        ("admin", "contractor_company", True),
        ("engineer", "unit", True),
        ("engineer", "enterprise", False),
        ("engineer", "contractor_company", False),
        ("operator", "tag", False),
        ("regulator", "enterprise", False),
        ("contractor", "contractor_company", True),
        ("contractor", "unit", False),
    ],
)
def test_who_may_edit(role: str, register: str, editable: bool) -> None:
    assert can_edit(_User(role, 1 if role != "admin" else None), SPECS[register]) is editable
