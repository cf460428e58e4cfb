"""Notification transports: one module per kind of destination, one ``send`` each.

    transport = transport_for("dingtalk", {"url": "https://oapi.dingtalk.com/robot/send?..."},
                              secret="SEC...")
    transport.send(message)            # raises DeliveryError when the channel refused or is down

In-app notifications are no transport: ``workflows.notify`` writes them in the caller's
transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.channels.base import DeliveryError, Message, Transport
from workflows.channels.email import SmtpTransport
from workflows.channels.robots import DingTalkRobot, FeishuRobot, WeComRobot
from workflows.channels.sms import SmsGateway
from workflows.channels.webhook import GenericWebhook

__all__ = ["KINDS", "DeliveryError", "Message", "Transport", "transport_for"]

#: Kinds of channel rows (``workflow.channel.kind``); 'inapp' is handled by notify itself.
KINDS = ("email", "sms", "wecom", "dingtalk", "feishu", "webhook")


def transport_for(kind: str, config: Mapping[str, Any], secret: str | None = None) -> Transport:
    """The transport of a channel row; a bad config is a ``DeliveryError`` naming the field."""
    builders: dict[str, Any] = {
        "email": SmtpTransport.from_config,
        "sms": SmsGateway.from_config,
        "wecom": WeComRobot.from_config,
        "dingtalk": DingTalkRobot.from_config,
        "feishu": FeishuRobot.from_config,
        "webhook": GenericWebhook.from_config,
    }
    try:
        build = builders[kind]
    except KeyError:
        raise DeliveryError(f"unknown channel kind {kind!r}; known: {', '.join(KINDS)}") from None
    return build(dict(config), secret)  # type: ignore[no-any-return]
