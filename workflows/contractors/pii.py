"""ID-card numbers (居民身份证号码, GB 11643-1999) as personal data: checked, encrypted at rest
with a key kept under the settings home, looked up by a keyed hash, masked on screen.

    id_card_error("11010519491231002X")     # None: valid
    mask("140105199001011234")              # "1401**********1234"
    vault = Vault.at(settings.home)         # key made on first use, mode 0600
    cipher, digest = vault.seal("11010519491231002X")
    vault.open(cipher)                      # the number again; digest finds it without the key

Only roles in ``FULL_ID_ROLES`` see the number; everybody else the mask.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final

from cryptography.fernet import Fernet, InvalidToken

from hazwatch.errors import HazwatchError

WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK: Final = "10X98765432"
KEY_FILE: Final = Path("var/keys/pii.key")
#: Roles whose work needs the full number (the host's administrators, e.g. for the police
#: registration of contractors); every other screen shows the mask.
FULL_ID_ROLES: Final = frozenset({"admin"})
_SHAPE = re.compile(r"^[1-8][0-9]{16}[0-9X]$")


class PiiError(HazwatchError):
    """An invalid ID-card number, or a key that cannot open stored data."""


def normalise(number: str) -> str:
    """Without spaces, with a capital X (as people type and paste it)."""
    return re.sub(r"\s+", "", number).upper()


def check_digit(first17: str) -> str:
    return CHECK[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def id_card_error(number: str) -> str | None:
    """Why ``number`` is no valid 18-digit ID-card number (English), or None."""
    if len(number) != 18:
        return f"must be 18 characters, not {len(number)}"
    if not _SHAPE.match(number):
        return "17 digits and a digit or X; the first digit is 1-8 (the region)"
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return f"characters 7-14 ({number[6:14]}) are no date of birth"
    if born.year < 1900 or born > date.today():
        return f"date of birth {born.isoformat()} is not plausible"
    expected = check_digit(number[:17])
    if number[17] != expected:
        return f"check digit should be {expected}, not {number[17]}"
    return None


def birth_date(number: str) -> date:
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def gender(number: str) -> str:
    """``M`` or ``F`` from the 17th digit (odd: male)."""
    return "M" if int(number[16]) % 2 else "F"


def mask(number: str) -> str:
    """First four and last four characters; the rest (birth date included) hidden."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def shown(role: str, number: str | None, masked: str) -> str:
    """What a user of ``role`` sees: the number for ``FULL_ID_ROLES``, else the mask."""
    return number if role in FULL_ID_ROLES and number else masked


@dataclass(frozen=True)
class Vault:
    """Encryption (Fernet: AES-128-CBC + HMAC) and a keyed lookup hash from one key file."""

    key: bytes

    @classmethod
    def at(cls, home: Path) -> Vault:
        """The vault of ``home``; its key file is created (0600) on first use."""
        path = home / KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first: use theirs
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(Fernet.generate_key())
        key = path.read_bytes().strip()
        try:
            Fernet(key)
        except ValueError:
            raise PiiError(f"{path}: not a Fernet key (44 url-safe base64 characters)") from None
        return cls(key)

    def digest(self, number: str) -> str:
        """HMAC-SHA256 of the normalised number: equal numbers, equal digests; no key, no
        dictionary attack over the small space of valid numbers."""
        mac_key = hashlib.sha256(b"hazwatch-pii-lookup:" + self.key).digest()
        return hmac.new(mac_key, normalise(number).encode(), hashlib.sha256).hexdigest()

    def seal(self, number: str) -> tuple[str, str]:
        """``(ciphertext, digest)`` of a valid number; PiiError naming the problem otherwise."""
        number = normalise(number)
        problem = id_card_error(number)
        if problem is not None:
            raise PiiError(f"ID-card number: {problem}")
        return Fernet(self.key).encrypt(number.encode()).decode(), self.digest(number)

    def open(self, cipher: str) -> str:
        try:
            return Fernet(self.key).decrypt(cipher.encode()).decode()
        except InvalidToken:
            raise PiiError("the ID-card number was sealed with another key") from None
