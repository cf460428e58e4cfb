"""E-mail over SMTP (plain, STARTTLS or implicit TLS), one message per recipient.

Config: ``{"host": "smtp.example.cn", "port": 587, "sender": "hazwatch@example.cn",
"starttls": true, "ssl": false, "username": "hazwatch", "timeout": 15}``; the password is the
channel's secret.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from workflows.channels.base import SEVERITY_ZH, DeliveryError, Message, require
from workflows.channels.web import timeout_setting


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_ssl: bool = False
    timeout: float = 15.0

    @classmethod
    def from_config(cls, config: dict[str, Any], secret: str | None) -> SmtpTransport:
        try:
            port = int(config.get("port", 25))
        except (TypeError, ValueError):
            port_text = config.get("port")
            raise DeliveryError(f"email channel: port {port_text!r} is no number") from None
        return cls(
            host=str(require(config, "host", "email")),
            port=port,
            sender=str(require(config, "sender", "email")),
            username=config.get("username") or None,
            password=secret,
            starttls=bool(config.get("starttls", False)),
            use_ssl=bool(config.get("ssl", False)),
            timeout=timeout_setting(config, 15.0),
        )

    def build(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        label = SEVERITY_ZH.get(message.severity, message.severity)
        mail["Subject"] = f"[{label}] {message.subject}"
        # A stable Message-ID: a resend after a crash carries the same one (receivers and mail
        # clients can thread or drop the repeat).
        domain = self.sender.rsplit("@", 1)[-1]
        mail["Message-ID"] = f"<{message.id}@{domain}>"
        if message.created_at is not None:
            mail["Date"] = format_datetime(message.created_at)
        mail["X-Hazwatch-Id"] = message.id
        text = message.body + (f"\n\n{message.link}" if message.link else "")
        mail.set_content(text)
        return mail

    def send(self, message: Message) -> None:
        mail = self.build(message)
        try:
            if self.use_ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls and not self.use_ssl:
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password or "")
                refused = client.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp {self.host}:{self.port}: {exc}") from exc
        if refused:
            raise DeliveryError(f"smtp {self.host}:{self.port} refused {refused}")
