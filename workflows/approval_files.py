"""Attachments of approval requests: checked, then stored once by content under the home.

    stored = store(home, Path("整改报告.pdf"))      # StoredFile(name, content_type, size, sha256)
    path_of(home, stored.sha256)                    # <home>/var/approvals/ab/ab12…

Only whitelisted types (by extension, and the file's first bytes must agree for the binary
formats), at most ``MAX_BYTES`` each. Files are named by their sha256, so storing the same
evidence twice keeps one copy and a stored file can be verified at any time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from workflows.approval_flow import ApprovalError

MAX_BYTES: Final = 20 * 1024 * 1024
MAX_FILES: Final = 10
STORE_DIR: Final = Path("var/approvals")
#: extension -> (content type, leading bytes the file must start with, or None for text).
TYPES: Final[dict[str, tuple[str, tuple[bytes, ...] | None]]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (b"PK\x03\x04",),
    ),
    ".xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        (b"PK\x03\x04",),
    ),
    ".doc": ("application/msword", (b"\xd0\xcf\x11\xe0",)),
    ".xls": ("application/vnd.ms-excel", (b"\xd0\xcf\x11\xe0",)),
    ".txt": ("text/plain", None),
    ".csv": ("text/csv", None),
}


@dataclass(frozen=True)
class StoredFile:
    name: str
    content_type: str
    size: int
    sha256: str


def path_of(home: Path, sha256: str) -> Path:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ApprovalError(f"not a sha256 checksum: {sha256!r}")
    return home / STORE_DIR / sha256[:2] / sha256


def check(name: str, data: bytes) -> str:
    """The content type of an acceptable file, else an ApprovalError naming the file and why."""
    ext = Path(name).suffix.lower()
    if ext not in TYPES:
        allowed = ", ".join(sorted(TYPES))
        raise ApprovalError(f"{name}: file type {ext or '(none)'} is not accepted; use {allowed}")
    if len(data) > MAX_BYTES:
        raise ApprovalError(
            f"{name}: {len(data) / 1048576:.1f} MiB is over the {MAX_BYTES // 1048576} MiB limit"
        )
    if not data:
        raise ApprovalError(f"{name}: the file is empty")
    content_type, magic = TYPES[ext]
    if magic is not None and not data.startswith(magic):
        raise ApprovalError(f"{name}: the content is not a {ext} file")
    if magic is None:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                data.decode("gb18030")
            except UnicodeDecodeError:
                raise ApprovalError(f"{name}: not text (neither UTF-8 nor GB18030)") from None
    return content_type


def store_bytes(home: Path, name: str, data: bytes) -> StoredFile:
    """Check and store ``data`` (atomically: a temporary file renamed into place)."""
    clean = Path(name).name.strip()
    if not clean or len(clean) > 255:
        raise ApprovalError(f"attachment name {name!r}: 1 to 255 characters")
    content_type = check(clean, data)
    digest = hashlib.sha256(data).hexdigest()
    target = path_of(home, digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return StoredFile(clean, content_type, len(data), digest)


def store(home: Path, path: Path) -> StoredFile:
    """Check and store the file at ``path`` under its own name."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ApprovalError(f"{path}: cannot read the attachment ({exc.strerror})") from None
    if size > MAX_BYTES:  # before reading it into memory
        raise ApprovalError(
            f"{path.name}: {size / 1048576:.1f} MiB is over the {MAX_BYTES // 1048576} MiB limit"
        )
    return store_bytes(home, path.name, path.read_bytes())


def verify(home: Path, sha256: str) -> bool:
    """Whether the stored copy still has its checksum."""
    target = path_of(home, sha256)
    return target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == sha256
