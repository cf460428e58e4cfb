"""The unified social credit code (统一社会信用代码, GB 32100-2015) of a Chinese organisation.

    credit_code_error("91350100M000100Y43")   # None: valid
    credit_code_error("91350100M000100Y44")   # "check digit should be 3, not 4"

18 characters from a 31-character alphabet (digits and capitals without I, O, S, V, Z):
registration authority (1), organisation type (1), administrative division (6 digits),
organisation code (9), and a check character computed from the first 17.
"""

from __future__ import annotations

import re
from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_SHAPE = re.compile(r"^[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$")


def check_character(first17: str) -> str:
    """The 18th character for the first 17 (which must be from ``ALPHABET``)."""
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise(code: str) -> str:
    """Upper case without surrounding or inner spaces (as people type and paste it)."""
    return re.sub(r"\s+", "", code).upper()


def credit_code_problem(code: str) -> tuple[str, dict[str, object]] | None:
    """``(kind, details)`` of what is wrong (for messages in any language), or None.

    Kinds: ``length`` (n), ``charset`` (chars), ``division``, ``check`` (expected, given).
    """
    if len(code) != 18:
        return "length", {"n": len(code)}
    bad = sorted({c for c in code if c not in ALPHABET})
    if bad:
        return "charset", {"chars": "".join(bad)}
    if not _SHAPE.match(code):
        return "division", {}
    expected = check_character(code[:17])
    if code[17] != expected:
        return "check", {"expected": expected, "given": code[17]}
    return None


_ENGLISH = {
    "length": "must be 18 characters, not {n}",
    "charset": "character(s) {chars} not allowed (I, O, S, V, Z and lower case never occur)",
    "division": "characters 3-8 must be digits (the administrative division code)",
    "check": "check digit should be {expected}, not {given}",
}


def credit_code_error(code: str) -> str | None:
    """Why ``code`` is not a valid credit code (English), or None when it is."""
    problem = credit_code_problem(code)
    if problem is None:
        return None
    kind, details = problem
    return _ENGLISH[kind].format(**details)
