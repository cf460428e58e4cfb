"""Camera credentials encrypted at rest (V1): Fernet (AES-128-CBC + HMAC-SHA256) with a key
kept in the settings home, never in the database.

    box = CredentialBox.for_home(settings.home)     # key made (mode 0600) on first use
    token = box.encrypt("s3cret")                    # bytes for registry.camera.secret_enc
    box.decrypt(token)                               # "s3cret"; only the worker needs this
    with_credentials("rtsp://10.0.0.5/main", "admin", "s3cret")
    # -> "rtsp://admin:s3cret@10.0.0.5/main" (handed to FFmpeg, never stored or logged)

A database dump or the audit log therefore holds no usable password; losing the key file means
re-entering the cameras' passwords, which the UI asks for (it never shows one back).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from cryptography.fernet import Fernet, InvalidToken

from hazwatch.errors import HazwatchError

KEY_FILE = Path("var/keys/video-credentials.key")


class CredentialError(HazwatchError):
    """A secret that cannot be decrypted (another key) or a URL that cannot carry it."""


class CredentialBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def for_home(cls, home: Path) -> CredentialBox:
        return cls(load_or_create_key(home / KEY_FILE))

    def encrypt(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode("utf-8")
        except InvalidToken:
            raise CredentialError(
                "camera password cannot be decrypted with this installation's key "
                f"({KEY_FILE}): enter the password again"
            ) from None


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``; a new one (0600, created atomically) when the file is missing."""
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return path.read_bytes().strip()
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        return key
    if len(key) != 44:
        raise CredentialError(f"{path} does not hold a Fernet key (44 url-safe base64 chars)")
    return key


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``rtsp://u:p@host/x`` -> (``rtsp://host/x``, "u", "p"): credentials never stay in a URL
    that is stored or shown.

    >>> split_credentials("rtsp://admin:pw@10.0.0.5:554/main")
    ('rtsp://10.0.0.5:554/main', 'admin', 'pw')
    >>> split_credentials("/srv/video/gate.mp4")
    ('/srv/video/gate.mp4', None, None)
    """
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, (user or None), (password if sep else None)


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """The URL FFmpeg opens: credentials percent-encoded into the authority part.

    >>> with_credentials("rtsp://cam/main", "ad min", "p@ss")
    'rtsp://ad%20min:p%40ss@cam/main'
    >>> with_credentials("rtsp://cam/main", None, None)
    'rtsp://cam/main'
    """
    if not username and not password:
        return url
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise CredentialError(f"{url!r}: credentials need a network URL (rtsp://host/...)")
    userinfo = quote(username or "", safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(
        (parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment)
    )


def redact(url: str) -> str:
    """A URL fit for logs and pages: any password replaced.

    >>> redact("rtsp://admin:pw@cam/main")
    'rtsp://admin:***@cam/main'
    """
    clean, user, password = split_credentials(url)
    if user is None and password is None:
        return url
    parts = urlsplit(clean)
    who = (user or "") + (":***" if password else "")
    return urlunsplit(
        (parts.scheme, f"{who}@{parts.netloc}", parts.path, parts.query, parts.fragment)
    )
