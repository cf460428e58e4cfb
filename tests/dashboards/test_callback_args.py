"""What the pages' acting callbacks share (pure parts): one row's value among pattern-matched
inputs, the outcome line, and the audit actor of a signed-in user."""

from __future__ import annotations

import pytest

from dashboards import auth
from dashboards.callback_args import actor_of, message, value_at
from hazwatch.registers import Actor


def test_value_at_picks_the_row_whose_id_matches() -> None:
    ids = [{"type": "alert-comment", "aid": 3}, {"type": "alert-comment", "aid": 7}]
    assert value_at(["first", "second"], ids, "aid", 7) == "second"
    assert value_at(["first", "second"], ids, "aid", 4) is None
    with pytest.raises(ValueError):  # values and ids come from one ALL pattern: same length
        value_at(["only one"], ids, "aid", 7)


def test_message_says_done_or_refused() -> None:
    done, refused = message("已保存", True, "x-done"), message("未执行", False, "x-error")
    assert (done.id, done.className, done.children) == ("x-done", "hw-ok", "已保存")
    assert (refused.id, refused.className) == ("x-error", "hw-error")


def test_actor_of_a_web_user() -> None:
    user = auth.WebUser(
        id=5, name="op1", display_name="操作员", role="operator", enterprise_id=2,
        region_id=None, scope_label="",
    )  # fmt: skip
    assert actor_of(user) == Actor(5, "op1")
