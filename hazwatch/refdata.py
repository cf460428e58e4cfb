r"""Reference enterprises from the 2021 Shanxi risk-warning deployment notice.

Source: 晋应急发〔2021〕247号, 山西省应急管理厅
《关于部署危险化学品安全生产风险监测预警系统有关工作的通知》(2021-09-09),
committed byte-for-byte as ``sql/data/source/004_risk_warning_notice.txt``.
Annexes 1-4 each carry a table of enterprises; annex 5 (扩展接入范围) has no table because it
applies to every enterprise with a grade 1-4 major hazard source.

The document was converted from a word-processor table, so each table cell sits on its own line
prefixed by a tab, and rows are separated by blank lines::

    \t序号
    \t区域
    \t企业名称
    <blank>
    \t1
    \t太原市
    \t中国航油集团山西石油有限公司
    <blank>
    \t2
    \t                      <- empty 区域 cell: same city as the row above
    \t中国航空油料有限责任公司山西分公司

Typical use::

    >>> from hazwatch import refdata
    >>> enterprises = refdata.load_reference_enterprises(
    ...     "sql/data/source/004_risk_warning_notice.txt")          # doctest: +SKIP
    >>> refdata.write_csv(enterprises, "sql/data/r1_enterprises.csv")  # doctest: +SKIP

or from the shell::

    python -m hazwatch.refdata sql/data/source/004_risk_warning_notice.txt \
        sql/data/r1_enterprises.csv

Everything except :func:`load_reference_enterprises`, :func:`write_csv`, :func:`read_csv` and
:func:`main` is pure: it takes text or rows and returns values.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "ANNEX_DEPLOYMENTS",
    "BATCHES",
    "CSV_HEADER",
    "DEPLOYMENTS",
    "EXTENDED_ACCESS",
    "KNOWN_NAME_VARIANTS",
    "NON_ENTERPRISE_NAMES",
    "REGION_ALIASES",
    "SHANXI_CITIES",
    "AnnexRow",
    "ReferenceEnterprise",
    "conflicts",
    "load_reference_enterprises",
    "main",
    "merge_enterprises",
    "parse_annex_rows",
    "read_csv",
    "write_csv",
]

#: Shanxi's 11 prefecture-level cities, in the official order.
SHANXI_CITIES: tuple[str, ...] = (
    "太原市",
    "大同市",
    "阳泉市",
    "长治市",
    "晋城市",
    "朔州市",
    "晋中市",
    "运城市",
    "忻州市",
    "临汾市",
    "吕梁市",
)

#: Stable deployment codes -> Chinese titles of the annexes of the notice (insertion order is
#: annex order).
DEPLOYMENTS: dict[str, str] = {
    "visual_comm": "可视化通信部署",  # 附件1
    "video_analysis": "视频智能分析终端部署",  # 附件2
    "oblique_3d": "三维倾斜摄影建模",  # 附件3
    "video_gateway": "视频网闸安装部署",  # 附件4
    # 附件5 has no enterprise list: its scope is "所有涉及一、二、三、四级重大危险源企业",
    # i.e. every major-hazard enterprise, so this code is assigned to every reference
    # enterprise.
    "extended_access": "扩展接入范围",  # 附件5
}

#: Code given to every enterprise (annex 5 covers all major-hazard enterprises).
EXTENDED_ACCESS = "extended_access"

#: Annex number -> deployment code, for the annexes that carry a table.
ANNEX_DEPLOYMENTS: dict[int, str] = {
    1: "visual_comm",
    2: "video_analysis",
    3: "oblique_3d",
    4: "video_gateway",
}

#: 建设批次 cell text (annex 1) -> normalised batch.
BATCHES: dict[str, str] = {"一期企业": "一期", "二期企业": "二期"}

#: Region cells that are not one of SHANXI_CITIES -> the city they stand for (None: no city).
#: Only annex 4 has such cells: rows 13 and 46 put a corporate group, not a place, in the
#: 地市/区域 column (中石化 = Sinopec, 中石油 = PetroChina, each with the name 中石化集团 /
#: 中石油集团). The raw text is kept in AnnexRow.region. An unknown region raises ValueError.
REGION_ALIASES: dict[str, str | None] = {
    "中石化": None,
    "中石油": None,
}

#: Informational only, NOT applied by merge_enterprises (names are deduplicated by exact text):
#: spellings in annexes 3 and 4 that very probably denote an enterprise that annex 1 spells
#: differently. Variant (as written) -> annex-1 spelling.
KNOWN_NAME_VARIANTS: dict[str, str] = {
    # 附件3 序号7: "有限公司" instead of "有限责任公司".
    "山西潞安煤基清洁能源有限公司": "山西潞安煤基清洁能源有限责任公司",
    # 附件4 序号5.
    "同煤广发化工有限责任公司": "同煤广发化学工业有限公司",
    # 附件4 序号7.
    "山西焦化集团股份有限公司": "山西焦化股份有限公司",
    # 附件4 序号35.
    "山西华鑫煤焦化集团有限公司": "山西华鑫煤焦化实业集团有限公司",
    # 附件4 序号37.
    "山西磊鑫化工有限公司": "山西磊鑫化工股份有限公司",
    # 附件4 序号38.
    "山西恩泽生物科技有限公司": "山西恩泽生物技术有限公司",
    # 附件4 序号40: plant suffix.
    "山西信发化工有限公司（氯碱厂）": "山西信发化工有限公司",
    # 附件4 序号47: abbreviation.
    "阳煤太化新材料有限公司": "阳煤集团太原化工新材料有限公司",
    # 附件4 序号56: phase suffix.
    "山西瑞恒化工有限公司（一期、二期）": "山西瑞恒化工有限公司",
    # 附件4 序号60: "丰喜集团（肥业）" instead of "丰喜肥业（集团）".
    "阳煤丰喜集团（肥业）有限责任公司平陆分公司": "阳煤丰喜肥业（集团）有限责任公司平陆分公司",
}

#: Informational only, NOT applied: annex-4 rows whose 企业名称 is not an enterprise
#: (a group headquarters or a city emergency-management bureau).
NON_ENTERPRISE_NAMES: frozenset[str] = frozenset({"中石化集团", "中石油集团", "晋中市应急局"})

#: Header of the reference CSV.
CSV_HEADER: tuple[str, ...] = ("name", "city", "batch", "deployments")

# Table header cell -> AnnexRow attribute.
_COLUMNS: dict[str, str] = {
    "序号": "seq",
    "区域": "region",
    "地市/区域": "region",
    "企业名称": "name",
    "建设批次": "batch",
}
_ANNEX_HEADING = re.compile(r"^附件([0-9]+)$")
# A table cell: (1-based line number, cell text stripped of surrounding blanks).
_Cell = tuple[int, str]


@dataclass(frozen=True)
class AnnexRow:
    """One table row of annexes 1-4, as written (names only stripped of surrounding blanks).

    ``region`` is the raw 区域 cell (None when the cell is empty or the annex has no such
    column); ``city`` is the resolved prefecture-level city, carried forward from the row above
    when the cell is empty. ``line`` is the 1-based line of the 序号 cell in the source text; it
    is ignored by ``==``.

    >>> AnnexRow(annex=3, seq=1, name="灵石中煤化工有限责任公司", city=None, batch=None)
    AnnexRow(annex=3, seq=1, name='灵石中煤化工有限责任公司', city=None, batch=None, region=None)
    """

    annex: int
    seq: int
    name: str
    city: str | None
    batch: str | None
    region: str | None = None
    line: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ReferenceEnterprise:
    """An enterprise named in the notice, merged over all annexes.

    ``deployments`` are codes of DEPLOYMENTS in annex order, always ending with
    ``"extended_access"``.

    >>> ReferenceEnterprise("山西榆社化工股份有限公司", "晋中市", "一期",
    ...                     ("visual_comm", "oblique_3d", "extended_access"))
    ... # doctest: +NORMALIZE_WHITESPACE
    ReferenceEnterprise(name='山西榆社化工股份有限公司', city='晋中市', batch='一期',
                        deployments=('visual_comm', 'oblique_3d', 'extended_access'))
    """

    name: str
    city: str | None
    batch: str | None
    deployments: tuple[str, ...]


def _region_to_city(region: str, where: str) -> str | None:
    if region in SHANXI_CITIES:
        return region
    if region in REGION_ALIASES:
        return REGION_ALIASES[region]
    raise ValueError(
        f"{where}: region cell {region!r} is neither one of Shanxi's 11 cities nor in "
        "REGION_ALIASES; add it there with the city it stands for"
    )


def _annex_spans(lines: Sequence[str]) -> list[tuple[int, int, int]]:
    """Return (annex number, first line index, end line index) for each 附件N heading."""
    headings: list[tuple[int, int]] = []
    for index, line in enumerate(lines):
        match = _ANNEX_HEADING.match(line.strip())
        if match:
            number = int(match.group(1))
            if any(number == seen for seen, _ in headings):
                raise ValueError(f"line {index + 1}: heading 附件{number} appears twice")
            headings.append((number, index))
    ends = [index for _, index in headings[1:]] + [len(lines)]
    return [(number, start, end) for (number, start), end in zip(headings, ends, strict=True)]


def _table_blocks(lines: Sequence[str], start: int, end: int, annex: int) -> list[list[_Cell]]:
    """Group the tab-prefixed cell lines of one annex into blank-line separated blocks.

    Each block is a list of (line number, cell text) pairs. The table starts at the first
    tab-prefixed line and ends at the first non-blank line without a leading tab.
    """
    blocks: list[list[_Cell]] = []
    current: list[_Cell] = []
    in_table = finished = False
    for index in range(start + 1, end):
        line = lines[index]
        if line.startswith("\t"):
            if finished:
                raise ValueError(f"附件{annex}: a second table starts at line {index + 1}")
            in_table = True
            current.append((index + 1, line.strip()))
        elif not line.strip():
            if current:
                blocks.append(current)
                current = []
        elif in_table:
            finished = True
    if current:
        blocks.append(current)
    return blocks


def _parse_table(blocks: list[list[_Cell]], annex: int) -> list[AnnexRow]:
    header_line, first = blocks[0][0]
    if first != "序号":
        raise ValueError(
            f"附件{annex} line {header_line}: table must start with a 序号 header, got {first!r}"
        )
    columns: list[str] = []
    for line, cell in blocks[0]:
        if cell not in _COLUMNS:
            raise ValueError(f"附件{annex} line {line}: unknown table header {cell!r}")
        columns.append(_COLUMNS[cell])
    if "name" not in columns or len(set(columns)) != len(columns):
        raise ValueError(f"附件{annex} line {header_line}: bad table header {columns!r}")

    rows: list[AnnexRow] = []
    city: str | None = None
    for block in blocks[1:]:
        line = block[0][0]
        where = f"附件{annex} line {line}"
        cells = [cell for _, cell in block]
        if not any(cells):
            continue  # spacer row of empty cells (right under the header in annexes 1 and 2)
        if len(cells) != len(columns):
            raise ValueError(
                f"{where}: row has {len(cells)} cells but the header has {len(columns)} "
                f"({', '.join(columns)}): {cells!r}"
            )
        values = dict(zip(columns, cells, strict=True))
        if not values["seq"].isdigit():
            raise ValueError(f"{where}: 序号 {values['seq']!r} is not a number")
        if not values["name"]:
            raise ValueError(f"{where}: empty 企业名称")
        region = values.get("region") or None
        if "region" in values:
            if region is not None:
                city = _region_to_city(region, where)
            elif not rows:
                raise ValueError(f"{where}: first row has an empty 区域 cell, nothing to carry")
        batch: str | None = None
        if "batch" in values:
            if values["batch"] not in BATCHES:
                raise ValueError(
                    f"{where}: 建设批次 {values['batch']!r} is not one of {sorted(BATCHES)}"
                )
            batch = BATCHES[values["batch"]]
        rows.append(
            AnnexRow(
                annex=annex,
                seq=int(values["seq"]),
                name=values["name"],
                city=city if "region" in values else None,
                batch=batch,
                region=region,
                line=line,
            )
        )
    _check_contiguous(rows, annex)
    return rows


def _check_contiguous(rows: Sequence[AnnexRow], annex: int) -> None:
    if not rows:
        raise ValueError(f"附件{annex}: table has a header but no rows")
    for expected, row in enumerate(rows, start=1):
        if row.seq != expected:
            raise ValueError(
                f"附件{annex}: 序号 must run 1..N without gaps or repeats; expected {expected} "
                f"but found {row.seq} at line {row.line} ({row.name})"
            )


def parse_annex_rows(text: str) -> list[AnnexRow]:
    r"""Parse every table row of annexes 1-4 of the notice, in document order.

    Annexes are found by their ``附件N`` heading lines; annex 5 (and any later one) has no
    table and is ignored. Raises ValueError, naming the annex and line, when a table is
    malformed: 序号 not 1..N contiguous, a row with the wrong number of cells, an unknown
    header, region or 建设批次, or an annex 1-4 heading without a table.

    >>> text = "附件3\n标题\n\t序号\n\t企业名称\n\n\t1\n\t甲公司\n\n\t2\n\t乙公司\n\n附件5\n"
    >>> [(r.annex, r.seq, r.name) for r in parse_annex_rows(text)]
    [(3, 1, '甲公司'), (3, 2, '乙公司')]
    >>> parse_annex_rows(text.replace("\t2\n", "\t3\n"))
    Traceback (most recent call last):
    ...
    ValueError: 附件3: 序号 must run 1..N without gaps or repeats; expected 2 but found 3 at line 9 (乙公司)
    """  # noqa: E501
    lines = [line.rstrip("\r") for line in text.removeprefix("\ufeff").split("\n")]
    rows: list[AnnexRow] = []
    for annex, start, end in _annex_spans(lines):
        if annex not in ANNEX_DEPLOYMENTS:
            continue
        blocks = _table_blocks(lines, start, end, annex)
        if not blocks:
            raise ValueError(f"附件{annex} (line {start + 1}) has no table")
        rows.extend(_parse_table(blocks, annex))
    if not rows:
        raise ValueError("no 附件1-附件4 enterprise table found in the text")
    return rows


def _by_name(rows: Iterable[AnnexRow]) -> dict[str, list[AnnexRow]]:
    grouped: dict[str, list[AnnexRow]] = {}
    for row in rows:
        grouped.setdefault(row.name, []).append(row)
    return {name: sorted(group, key=lambda r: (r.annex, r.seq)) for name, group in grouped.items()}


def _first(values: Iterable[str | None]) -> str | None:
    return next((value for value in values if value is not None), None)


def merge_enterprises(rows: Iterable[AnnexRow]) -> list[ReferenceEnterprise]:
    """Merge annex rows into one ReferenceEnterprise per exact name, in first-seen order.

    Rules: names are compared exactly as written (no bracket or spacing normalisation; see
    KNOWN_NAME_VARIANTS for probable duplicates that are deliberately NOT merged). City and
    batch come from the lowest-numbered annex that gives one ("first annex wins"); use
    :func:`conflicts` to list names where annexes disagree. Deployments are the annexes' codes
    in annex order followed by ``extended_access`` (annex 5 covers every enterprise).

    >>> rows = [AnnexRow(1, 1, "甲公司", "太原市", "一期"), AnnexRow(3, 1, "甲公司", None, None)]
    >>> merge_enterprises(rows)  # doctest: +NORMALIZE_WHITESPACE
    [ReferenceEnterprise(name='甲公司', city='太原市', batch='一期',
                         deployments=('visual_comm', 'oblique_3d', 'extended_access'))]
    """
    merged: list[ReferenceEnterprise] = []
    for name, group in _by_name(rows).items():
        annexes = sorted({row.annex for row in group})
        merged.append(
            ReferenceEnterprise(
                name=name,
                city=_first(row.city for row in group),
                batch=_first(row.batch for row in group),
                deployments=(*(ANNEX_DEPLOYMENTS[a] for a in annexes), EXTENDED_ACCESS),
            )
        )
    return merged


def conflicts(rows: Iterable[AnnexRow]) -> list[str]:
    """Describe names whose annexes disagree, or that an annex lists twice.

    City and batch disagreements are reported with the value merge_enterprises keeps (the
    lowest-numbered annex's). Rows without a city or batch never conflict.

    >>> conflicts([AnnexRow(1, 1, "甲公司", "太原市", "一期"), AnnexRow(4, 9, "甲公司", "大同市", None)])
    ['甲公司: city differs: 附件1 序号1 太原市; 附件4 序号9 大同市; kept 太原市 (first annex wins)']
    """  # noqa: E501
    messages: list[str] = []
    for name, group in _by_name(rows).items():
        for label, attr in (("city", "city"), ("batch", "batch")):
            given = [(row, getattr(row, attr)) for row in group if getattr(row, attr) is not None]
            if len({value for _, value in given}) > 1:
                listed = "; ".join(f"附件{row.annex} 序号{row.seq} {value}" for row, value in given)
                messages.append(
                    f"{name}: {label} differs: {listed}; kept {given[0][1]} (first annex wins)"
                )
        annexes = [row.annex for row in group]
        for annex in sorted({a for a in annexes if annexes.count(a) > 1}):
            seqs = ", ".join(str(row.seq) for row in group if row.annex == annex)
            messages.append(f"{name}: listed more than once in 附件{annex} (序号 {seqs})")
    return messages


def load_reference_enterprises(path: str | os.PathLike[str]) -> list[ReferenceEnterprise]:
    """Read the notice text at ``path`` (UTF-8) and return its merged enterprises.

    >>> load_reference_enterprises("sql/data/source/004_risk_warning_notice.txt")[0].name
    ... # doctest: +SKIP
    '中国航油集团山西石油有限公司'
    """
    with open(path, encoding="utf-8") as handle:
        return merge_enterprises(parse_annex_rows(handle.read()))


def write_csv(enterprises: Iterable[ReferenceEnterprise], path: str | os.PathLike[str]) -> None:
    """Write enterprises as UTF-8 CSV: ``name,city,batch,deployments``.

    None becomes the empty string; deployments are joined with ``;``; lines end with ``\\n``.

    >>> write_csv(load_reference_enterprises(seed), "sql/data/r1_enterprises.csv")
    ... # doctest: +SKIP
    """
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for item in enterprises:
            writer.writerow(
                [item.name, item.city or "", item.batch or "", ";".join(item.deployments)]
            )


def read_csv(path: str | os.PathLike[str]) -> list[ReferenceEnterprise]:
    """Read a CSV written by :func:`write_csv`, validating header, cities, batches and codes.

    >>> read_csv("sql/data/r1_enterprises.csv")[0].city  # doctest: +SKIP
    '太原市'
    """
    batches = set(BATCHES.values())
    enterprises: list[ReferenceEnterprise] = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(header) != CSV_HEADER:
            raise ValueError(f"{path}: header must be {','.join(CSV_HEADER)}, got {header!r}")
        for number, record in enumerate(reader, start=2):
            if len(record) != len(CSV_HEADER):
                raise ValueError(f"{path} line {number}: expected 4 fields, got {record!r}")
            name, city, batch, deployments = record
            codes = tuple(deployments.split(";")) if deployments else ()
            if not name or (city and city not in SHANXI_CITIES) or (batch and batch not in batches):
                raise ValueError(f"{path} line {number}: bad name, city or batch in {record!r}")
            if not codes or any(code not in DEPLOYMENTS for code in codes):
                raise ValueError(f"{path} line {number}: unknown deployment in {deployments!r}")
            enterprises.append(ReferenceEnterprise(name, city or None, batch or None, codes))
    return enterprises


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the reference CSV: ``python -m hazwatch.refdata SEED_TXT OUT_CSV``.

    Prints the number of enterprises written and, on stderr, every conflict found.
    """
    parser = argparse.ArgumentParser(
        prog="python -m hazwatch.refdata",
        description="Extract the enterprise lists of 晋应急发〔2021〕247号 annexes 1-4 into a CSV.",
    )
    parser.add_argument("seed_txt", help="text of the notice (UTF-8)")
    parser.add_argument("out_csv", help="CSV to write (name,city,batch,deployments)")
    args = parser.parse_args(argv)
    with open(args.seed_txt, encoding="utf-8") as handle:
        rows = parse_annex_rows(handle.read())
    for message in conflicts(rows):
        print(f"conflict: {message}", file=sys.stderr)
    enterprises = merge_enterprises(rows)
    write_csv(enterprises, args.out_csv)
    print(f"{len(rows)} annex rows -> {len(enterprises)} enterprises written to {args.out_csv}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
