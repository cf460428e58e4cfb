"""Entry exams (C10): a paper drawn at random from question banks by a course's rules, graded
automatically against a pass mark. Pure functions; the database side is in ``entry``.

    rules = [Rule("通用安全", "single", 5, 4.0), Rule("通用安全", "judge", 5, 4.0)]
    paper = draw_paper(questions, rules, seed=42)      # same seed, same paper
    result = grade(paper, {"17": "B", "23": "T", ...}) # answers by question id
    result.score, result.max_score, passed(result, pass_mark=80)

Options of choice questions are shuffled per paper, so neighbours get different letters; the
paper keeps the right letters as they appear on it. The pass mark is a percentage of the
paper's total, so a course may change its rules without restating its pass mark.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from hazwatch.errors import HazwatchError

QTYPES: Final = ("single", "multiple", "judge")
LETTERS: Final = string.ascii_uppercase[:8]
JUDGE_OPTIONS: Final = ("正确", "错误")


class ExamError(HazwatchError):
    """A paper that cannot be drawn, or answers that cannot be graded."""


@dataclass(frozen=True)
class Question:
    id: int
    bank: str
    qtype: str
    stem: str
    options: tuple[str, ...]
    #: Letters of the right options (``A``, ``AC``); ``T`` or ``F`` for judge questions.
    answer: str


@dataclass(frozen=True)
class Rule:
    bank: str
    qtype: str
    count: int
    points: float


@dataclass(frozen=True)
class Item:
    question_id: int
    qtype: str
    stem: str
    options: tuple[str, ...]
    answer: str
    points: float


@dataclass(frozen=True)
class Result:
    score: float
    max_score: float
    #: question id -> whether the answer was right.
    correct: Mapping[int, bool]

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0


def question_error(q: Question) -> str | None:
    """Why a question cannot be used (for imports and the editor), or None."""
    if q.qtype not in QTYPES:
        return f"type {q.qtype!r}: one of {', '.join(QTYPES)}"
    if not q.stem.strip():
        return "the question text is empty"
    if q.qtype == "judge":
        return None if q.answer in ("T", "F") else "a judge question's answer is T or F"
    if not 2 <= len(q.options) <= len(LETTERS):
        return f"a choice question needs 2 to {len(LETTERS)} options, not {len(q.options)}"
    letters = LETTERS[: len(q.options)]
    if (
        not q.answer
        or any(c not in letters for c in q.answer)
        or len(set(q.answer)) != len(q.answer)
    ):
        return f"answer {q.answer!r}: letters among {letters}"
    if q.qtype == "single" and len(q.answer) != 1:
        return "a single-choice question has exactly one right letter"
    if q.qtype == "multiple" and len(q.answer) < 2:
        return "a multiple-choice question has at least two right letters"
    return None


def _shuffled(q: Question, rng: random.Random) -> tuple[tuple[str, ...], str]:
    if q.qtype == "judge":
        return JUDGE_OPTIONS, q.answer
    order = list(range(len(q.options)))
    rng.shuffle(order)
    right = {LETTERS.index(c) for c in q.answer}
    answer = "".join(LETTERS[pos] for pos, old in enumerate(order) if old in right)
    return tuple(q.options[i] for i in order), answer


def draw_paper(questions: Iterable[Question], rules: Sequence[Rule], seed: int) -> list[Item]:
    """``count`` distinct questions per rule, in random order; deterministic for a seed.

    An ExamError names the rule a bank cannot satisfy.
    """
    if not rules:
        raise ExamError("the course has no exam rules (bank, type, count, points)")
    rng = random.Random(seed)  # noqa: S311 (reproducible papers, not secrets)
    pool: dict[tuple[str, str], list[Question]] = {}
    for q in sorted(questions, key=lambda q: q.id):  # input order must not change the paper
        pool.setdefault((q.bank, q.qtype), []).append(q)
    items: list[Item] = []
    for rule in rules:
        if rule.qtype not in QTYPES:
            raise ExamError(f"rule {rule.bank}/{rule.qtype}: unknown question type")
        if rule.count < 1 or rule.points <= 0:
            raise ExamError(f"rule {rule.bank}/{rule.qtype}: count and points must be positive")
        available = pool.get((rule.bank, rule.qtype), [])
        if len(available) < rule.count:
            raise ExamError(
                f"bank {rule.bank!r} has {len(available)} {rule.qtype} questions;"
                f" the course draws {rule.count}"
            )
        for q in rng.sample(available, rule.count):
            options, answer = _shuffled(q, rng)
            items.append(Item(q.id, q.qtype, q.stem, options, answer, float(rule.points)))
    rng.shuffle(items)
    return items


def _clean(answer: object) -> str:
    text = "" if answer is None else str(answer)
    return "".join(sorted({c for c in text.upper() if c in LETTERS or c in "TF"}))


def grade(paper: Sequence[Item], answers: Mapping[Any, object]) -> Result:
    """Full points for exactly the right letters, none otherwise (no partial credit for
    multiple choice: a missing or extra letter is wrong). ``answers`` keys: question ids as
    int or str; unanswered questions score nothing."""
    by_id = {str(k): v for k, v in answers.items()}
    unknown = set(by_id) - {str(i.question_id) for i in paper}
    if unknown:
        raise ExamError(f"answers to questions not on the paper: {', '.join(sorted(unknown))}")
    score = 0.0
    correct: dict[int, bool] = {}
    for item in paper:
        right = _clean(by_id.get(str(item.question_id))) == "".join(sorted(item.answer))
        correct[item.question_id] = right
        score += item.points if right else 0.0
    return Result(score, sum(i.points for i in paper), correct)


def passed(result: Result, pass_mark: float) -> bool:
    """Whether the score reaches ``pass_mark`` percent of the paper's total."""
    return result.percent >= float(pass_mark) - 1e-9


def paper_to_json(paper: Sequence[Item]) -> list[dict[str, Any]]:
    return [{**asdict(i), "options": list(i.options)} for i in paper]


def paper_from_json(data: Sequence[Mapping[str, Any]]) -> list[Item]:
    return [
        Item(
            int(d["question_id"]),
            str(d["qtype"]),
            str(d["stem"]),
            tuple(d["options"]),
            str(d["answer"]),
            float(d["points"]),
        )
        for d in data
    ]
