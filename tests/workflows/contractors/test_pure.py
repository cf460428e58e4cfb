"""Pure rules of contractor management: exam papers and grading (C10), ID-card numbers (C13
PII), document checks (C3, C9)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from workflows.contractors import exams
from workflows.contractors.documents import Dossier, clean_places, document_problems
from workflows.contractors.exams import ExamError, Question, Rule, draw_paper, grade, passed
from workflows.contractors.pii import PiiError, Vault, id_card_error, mask, shown


def _bank() -> list[Question]:
    qs = [
        Question(i, "安全", "single", f"单选{i}", ("甲", "乙", "丙", "丁"), "B")
        for i in range(1, 11)
    ]
    qs += [
        Question(i, "安全", "multiple", f"多选{i}", ("甲", "乙", "丙"), "AC") for i in range(11, 16)
    ]
    qs += [Question(i, "消防", "judge", f"判断{i}", (), "T") for i in range(16, 26)]
    return qs


RULES = [
    Rule("安全", "single", 4, 10),
    Rule("安全", "multiple", 2, 15),
    Rule("消防", "judge", 3, 10),
]


def test_paper_follows_the_rules_and_the_seed() -> None:
    paper = draw_paper(_bank(), RULES, seed=7)
    assert len(paper) == 9
    assert len({i.question_id for i in paper}) == 9  # no question twice
    by_type = {t: [i for i in paper if i.qtype == t] for t in exams.QTYPES}
    assert len(by_type["single"]) == 4 and len(by_type["multiple"]) == 2
    assert {i.question_id for i in by_type["judge"]} <= set(range(16, 26))
    assert sum(i.points for i in paper) == 4 * 10 + 2 * 15 + 3 * 10
    # Same seed, same paper whatever the order of the bank; another seed, another paper.
    assert draw_paper(list(reversed(_bank())), RULES, seed=7) == paper
    assert draw_paper(_bank(), RULES, seed=8) != paper


def test_shuffled_options_keep_the_right_answer() -> None:
    for seed in range(20):
        for item in draw_paper(_bank(), RULES, seed=seed):
            if item.qtype == "single":
                assert item.options[exams.LETTERS.index(item.answer)] == "乙"
            if item.qtype == "multiple":
                assert {item.options[exams.LETTERS.index(c)] for c in item.answer} == {"甲", "丙"}


def test_a_bank_too_small_is_named() -> None:
    with pytest.raises(ExamError, match="bank '消防' has 10 judge questions; the course draws 11"):
        draw_paper(_bank(), [Rule("消防", "judge", 11, 5)], seed=1)


def test_grading_and_pass_mark() -> None:
    paper = draw_paper(_bank(), RULES, seed=3)
    right = {i.question_id: i.answer for i in paper}
    full = grade(paper, right)
    assert (full.score, full.max_score, full.percent) == (100, 100, 100)
    # Multiple choice: a missing letter is wrong; letters in any order and case are fine.
    multi = [i for i in paper if i.qtype == "multiple"]
    answers = dict(right)
    answers[multi[0].question_id] = multi[0].answer[0]
    answers[multi[1].question_id] = multi[1].answer[::-1].lower()
    result = grade(paper, {str(k): v for k, v in answers.items()})
    assert result.score == 85 and not result.correct[multi[0].question_id]
    assert passed(result, 80) and not passed(result, 90)
    assert grade(paper, {}).score == 0
    with pytest.raises(ExamError, match="not on the paper"):
        grade(paper, {"999": "A"})


def test_question_errors() -> None:
    assert exams.question_error(Question(1, "b", "single", "q", ("a", "b"), "AB")) is not None
    assert exams.question_error(Question(1, "b", "multiple", "q", ("a", "b"), "A")) is not None
    assert exams.question_error(Question(1, "b", "single", "q", ("a", "b"), "C")) is not None
    assert exams.question_error(Question(1, "b", "judge", "q", (), "X")) is not None
    assert exams.question_error(Question(1, "b", "judge", "q", (), "F")) is None


def test_id_card_numbers() -> None:
    assert id_card_error("11010519491231002X") is None
    assert id_card_error("110105194912310021") == "check digit should be X, not 1"
    assert "18 characters" in (id_card_error("1101051949123100") or "")
    assert "no date of birth" in (id_card_error("110105194913310028") or "")
    assert mask("140105199001011234") == "1401**********1234"
    assert shown("admin", "140105199001011234", "1401**********1234") == "140105199001011234"
    assert shown("contractor", "140105199001011234", "1401**********1234") == "1401**********1234"


def test_vault_round_trip(tmp_path: Path) -> None:
    vault = Vault.at(tmp_path)
    key_file = tmp_path / "var/keys/pii.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    cipher, digest = vault.seal("11010519491231002x")
    assert "11010519491231002X" not in cipher
    assert vault.open(cipher) == "11010519491231002X"
    assert Vault.at(tmp_path).digest("11010519491231002X") == digest  # same key from the file
    other = Vault.at(tmp_path / "other")
    assert other.digest("11010519491231002X") != digest
    with pytest.raises(PiiError, match="another key"):
        other.open(cipher)
    with pytest.raises(PiiError, match="check digit"):
        vault.seal("110105194912310021")


def test_document_rules() -> None:
    d = Dossier("special_worker", "installation", {"焊工证": date(2026, 12, 15)},
                date(2027, 1, 1), date(2026, 6, 1))  # fmt: skip
    problems = document_problems(d, ["焊工证", "高处作业证"], date(2026, 12, 1), date(2026, 12, 31))
    assert problems == [
        "certificate 焊工证 expires 2026-12-15, before the entry period ends (2026-12-31)",
        "certificate 高处作业证 is required for special_worker of installation contractors",
    ]
    ok = Dossier("worker", "installation", {}, date(2027, 1, 1), date(2026, 6, 1))
    assert document_problems(ok, [], date(2026, 12, 1), date(2026, 12, 31)) == []
    old = Dossier("worker", "installation", {}, None, date(2025, 1, 1))
    assert document_problems(old, [], date(2026, 12, 1), date(2026, 12, 31)) == [
        "no insurance recorded",
        "the medical check of 2025-01-01 is over a year old",
    ]
    assert clean_places([" 一号门", "", "储罐区", "一号门"]) == ["一号门", "储罐区"]
    with pytest.raises(ValueError, match="at least one place"):
        clean_places(["  "])
