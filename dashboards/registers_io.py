"""CSV and Excel files of the register screens: export what the grid shows, read an import
back into typed-cell rows with a row-by-row error report. Pure: bytes in, bytes out.

    headers, body = export_table(SPECS["unit"], rows)            # rows as the grid shows them
    data = write_xlsx(headers, body, "装置")                      # or write_csv(headers, body)
    table = read_table(data, "units.xlsx", SPECS["unit"])
    table.rows     # [(3, {"code": "U100", "name": "常减压", ...}), ...]  (3: row in the file)
    table.errors   # [(5, "编码", "与第 3 行重复"), ...]

Columns are recognised by their Chinese or English header or the column name; foreign keys
are codes or names (``register_data`` resolves them). CSV from Excel comes as UTF-8 with a BOM
("CSV UTF-8") or in the Chinese Windows code page (GBK): both are read. A CSV export carries a
BOM so Excel shows the Chinese text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Final

from dashboards import i18n
from dashboards.register_specs import Column, RegisterSpec

#: Leading characters that make a spreadsheet treat a cell as a formula (CSV injection).
FORMULA_START: Final = ("=", "+", "-", "@")
MAX_ROWS: Final = 50_000

RowError = tuple[int, str, str]


@dataclass
class Table:
    """Rows of an import file keyed by column name, with the file's row numbers."""

    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


class FileError(ValueError):
    """The file as a whole cannot be read (not CSV/XLSX, wrong encoding, no header)."""


# -- export -----------------------------------------------------------------------------------


def _cell_text(col: Column, value: Any, lang: str | None) -> Any:
    if col.kind == "bool":
        if value is None or value == "":
            return ""
        return i18n.t("reg.choice.yes" if value else "reg.choice.no", lang)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def export_table(
    spec: RegisterSpec, rows: Sequence[dict[str, Any]], lang: str | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Headers (in ``lang``) and the rows' cells, in the grid's form (codes and names)."""
    headers = [c.header(lang) for c in spec.columns]
    body = [[_cell_text(c, row.get(c.name), lang) for c in spec.columns] for row in rows]
    return headers, body


def write_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def write_xlsx(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title[:31] or "Sheet1"
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(list(row))
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text, never a formula
    ws.freeze_panes = "A2"
    for i, header in enumerate(headers, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(12, len(header) * 2 + 2)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_errors_csv(errors: Sequence[RowError], lang: str | None = None) -> bytes:
    """The error report as a CSV: row, column, message."""
    headers = [i18n.t(k, lang) for k in ("reg.err.row", "reg.err.column", "reg.err.message")]
    return write_csv(headers, [list(e) for e in errors])


# -- import -----------------------------------------------------------------------------------


def decode_csv(data: bytes) -> str:
    """Text of a CSV file: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (a
    superset of GBK, what Excel writes on Chinese Windows)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise FileError(i18n.t("reg.err.file", why="encoding (UTF-8 / GBK)")) from exc


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = decode_csv(data)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count) if first else ","
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _xlsx_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError) as exc:
        raise FileError(i18n.t("reg.err.file", why=f"not an .xlsx workbook ({exc})")) from exc
    try:
        ws = wb.worksheets[0]
        for row in ws.iter_rows(values_only=True):
            yield [_xlsx_text(v) for v in row]
    finally:
        wb.close()


def header_map(spec: RegisterSpec) -> dict[str, str]:
    """Every accepted spelling of a header (lower case) → column name."""
    out: dict[str, str] = {}
    for col in spec.columns:
        for text in (col.name, *(col.header(lang) for lang in i18n.LANGS)):
            out[text.strip().lower()] = col.name
    return out


def _clean(cell: str) -> str:
    cell = cell.strip()
    if cell.startswith("'") and cell[1:].startswith(FORMULA_START):
        return cell[1:]  # our own export's guard against formulas
    return cell


def read_table(data: bytes, filename: str, spec: RegisterSpec) -> Table:
    """Parse an import file (``.csv`` or ``.xlsx`` by name). Blank lines are skipped; row
    numbers are the file's (header = the first non-blank row). Raises ``FileError`` when the
    file cannot be read at all."""
    lower = filename.lower()
    if lower.endswith((".xlsx", ".xlsm")):
        source = _xlsx_rows(data)
    elif lower.endswith((".csv", ".txt")):
        source = _csv_rows(data)
    else:
        raise FileError(i18n.t("reg.err.file", why="only .csv and .xlsx"))
    table = Table()
    names = header_map(spec)
    columns: list[str | None] | None = None
    seen: dict[tuple[str, ...], int] = {}
    for number, raw in enumerate(source, start=1):
        cells = [_clean(c) for c in raw]
        if not any(cells):
            continue
        if columns is None:
            columns = []
            for text in cells:
                name = names.get(text.rstrip("*").strip().lower())
                if name is None and text:
                    table.errors.append(
                        (number, text, i18n.t("reg.err.unknown_column", value=text))
                    )
                columns.append(name)
            table.columns = [c for c in columns if c]
            continue
        if len(table.rows) >= MAX_ROWS:
            raise FileError(i18n.t("reg.err.file", why=f"more than {MAX_ROWS} rows"))
        row = {
            name: cells[i] if i < len(cells) else ""
            for i, name in enumerate(columns)
            if name is not None
        }
        key = tuple(row.get(k, "") for k in spec.key_columns if k in row)
        if key and any(key):
            if key in seen:
                last = spec.column([k for k in spec.key_columns if k in row][-1])
                table.errors.append(
                    (number, last.header(), i18n.t("reg.err.duplicate", row=seen[key]))
                )
                continue
            seen[key] = number
        table.rows.append((number, row))
    if columns is None or not table.rows:
        table.errors.append((1, "", i18n.t("reg.err.empty")))
    return table
