"""Group robots of WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书), by their documented formats.

- WeCom: ``POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`` with
  ``{"msgtype": "markdown", "markdown": {"content": "..."}}`` (or ``"text"`` with
  ``mentioned_mobile_list``); success is ``{"errcode": 0, "errmsg": "ok"}``.
- DingTalk: ``POST https://oapi.dingtalk.com/robot/send?access_token=T`` with
  ``{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}, "at": {"atMobiles": [...],
  "isAtAll": false}}``; with a signing secret the URL gets ``&timestamp=<ms>&sign=<s>`` where
  ``s = urlencode(base64(HMAC-SHA256(key=secret, msg="<ms>\\n<secret>")))``; success is
  ``{"errcode": 0, ...}``.
- Feishu: ``POST https://open.feishu.cn/open-apis/bot/v2/hook/ID`` with
  ``{"msg_type": "post", "content": {"post": {"zh_cn": {"title": ..., "content": [[...]]}}}}``;
  with a signing secret the body gets ``"timestamp": "<s>"`` and
  ``"sign": base64(HMAC-SHA256(key="<s>\\n<secret>", msg=""))``; success is ``{"code": 0}``.

Config: ``{"url": "...", "mentions": ["+8613800000000"], "msgtype": "markdown"}``; the signing
secret is the channel's secret. Each robot's URL is taken as the operator copied it from the
group's robot settings (token or key included).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from workflows.channels.base import SEVERITY_ZH, DeliveryError, Message
from workflows.channels.web import post_json, timeout_setting, url_setting


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value of a DingTalk robot (already URL-encoded)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """The ``sign`` body field of a Feishu robot: the key is the string to sign, message empty."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _title(message: Message) -> str:
    label = SEVERITY_ZH.get(message.severity, message.severity)
    return f"[{label}] {message.subject}"


def _markdown(message: Message) -> str:
    lines = [f"### {_title(message)}", "", message.body]
    if message.link:
        lines += ["", f"[详情 / details]({message.link})"]
    return "\n".join(lines)


def _check_answer(kind: str, answer: Any, code_field: str) -> None:
    if not isinstance(answer, dict):
        raise DeliveryError(f"{kind} robot answered without JSON")
    code = answer.get(code_field, answer.get("StatusCode"))
    if code != 0:
        msg = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage")
        raise DeliveryError(f"{kind} robot refused the message: {code_field} {code}: {msg}")


def _mentions(config: dict[str, Any]) -> list[str]:
    value = config.get("mentions", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DeliveryError("robot channel: config field 'mentions' must be a list of strings")
    return value


@dataclass(frozen=True)
class WeComRobot:
    url: str
    mentions: tuple[str, ...] = ()
    msgtype: str = "markdown"
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: dict[str, Any], secret: str | None) -> WeComRobot:
        msgtype = str(config.get("msgtype", "markdown"))
        if msgtype not in ("markdown", "text"):
            raise DeliveryError(f"wecom channel: msgtype {msgtype!r} is not markdown or text")
        return cls(
            url=url_setting(config, "wecom"),
            mentions=tuple(_mentions(config)),
            msgtype=msgtype,
            timeout=timeout_setting(config),
        )

    def payload(self, message: Message) -> dict[str, Any]:
        if self.msgtype == "text":
            return {
                "msgtype": "text",
                "text": {
                    "content": f"{_title(message)}\n{message.body}"
                    + (f"\n{message.link}" if message.link else ""),
                    "mentioned_mobile_list": list(self.mentions),
                },
            }
        # WeCom markdown has no @mobile; mentions need the text type.
        return {"msgtype": "markdown", "markdown": {"content": _markdown(message)[:4000]}}

    def send(self, message: Message) -> None:
        _, answer = post_json(self.url, self.payload(message), {}, self.timeout)
        _check_answer("wecom", answer, "errcode")


@dataclass(frozen=True)
class DingTalkRobot:
    url: str
    secret: str | None = None
    mentions: tuple[str, ...] = ()
    timeout: float = 10.0
    clock: Callable[[], float] = field(default=time.time, compare=False)

    @classmethod
    def from_config(cls, config: dict[str, Any], secret: str | None) -> DingTalkRobot:
        return cls(
            url=url_setting(config, "dingtalk"),
            secret=secret,
            mentions=tuple(_mentions(config)),
            timeout=timeout_setting(config),
        )

    def signed_url(self) -> str:
        if not self.secret:
            return self.url
        ts = int(self.clock() * 1000)
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}timestamp={ts}&sign={dingtalk_sign(self.secret, ts)}"

    def payload(self, message: Message) -> dict[str, Any]:
        text = _markdown(message)
        if self.mentions:
            # DingTalk only notifies a mentioned mobile that also appears in the text.
            text += "\n\n" + " ".join(f"@{m}" for m in self.mentions)
        return {
            "msgtype": "markdown",
            "markdown": {"title": _title(message), "text": text},
            "at": {"atMobiles": list(self.mentions), "isAtAll": False},
        }

    def send(self, message: Message) -> None:
        _, answer = post_json(self.signed_url(), self.payload(message), {}, self.timeout)
        _check_answer("dingtalk", answer, "errcode")


@dataclass(frozen=True)
class FeishuRobot:
    url: str
    secret: str | None = None
    timeout: float = 10.0
    clock: Callable[[], float] = field(default=time.time, compare=False)

    @classmethod
    def from_config(cls, config: dict[str, Any], secret: str | None) -> FeishuRobot:
        return cls(
            url=url_setting(config, "feishu"),
            secret=secret,
            timeout=timeout_setting(config),
        )

    def payload(self, message: Message) -> dict[str, Any]:
        content: list[list[dict[str, str]]] = [[{"tag": "text", "text": message.body}]]
        if message.link:
            content.append([{"tag": "a", "text": "详情 / details", "href": message.link}])
        body: dict[str, Any] = {
            "msg_type": "post",
            "content": {"post": {"zh_cn": {"title": _title(message), "content": content}}},
        }
        if self.secret:
            ts = int(self.clock())
            body = {"timestamp": str(ts), "sign": feishu_sign(self.secret, ts), **body}
        return body

    def send(self, message: Message) -> None:
        _, answer = post_json(self.url, self.payload(message), {}, self.timeout)
        _check_answer("feishu", answer, "code")
