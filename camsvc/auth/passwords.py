"""Password hashing (argon2id through pwdlib) and the password policy.

``hash_password`` / ``verify_password`` / ``needs_rehash``: the stored string is the standard PHC form
(``$argon2id$v=19$m=65536,t=3,p=4$...``), so the parameters can be raised later and old hashes upgraded at the
next sign-in (``verify_and_update``). ``verify_password`` against no hash (unknown user, token-only account)
still spends the time of one verification, so response times do not tell which usernames exist.

Policy (``check_password``): at least 10 characters, at most 1024 (argon2 is fine with long input, the bound
only keeps a request from being a denial of service), not the username. Errors carry a ``code`` for
translated messages and an English text.
"""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_LENGTH = 10
MAX_LENGTH = 1024

_hasher = Argon2Hasher()
_hash = PasswordHash((_hasher,))
_DUMMY_HASH = _hash.hash("camsvc: a password nobody has")


class PasswordPolicyError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_password(password: str, username: str = "") -> None:
    """Raise ``PasswordPolicyError`` (codes: too_short, too_long, blank, is_username) for a weak password."""
    if not password.strip():
        raise PasswordPolicyError("blank", "the password must not be empty or only spaces")
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(
            "too_short", f"the password must have at least {MIN_LENGTH} characters (it has {len(password)})"
        )
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError("too_long", f"the password must have at most {MAX_LENGTH} characters")
    if username and password.strip().casefold() == username.strip().casefold():
        raise PasswordPolicyError("is_username", "the password must not be the username")


def hash_password(password: str) -> str:
    return _hash.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True if *password* matches; False for a wrong password, an empty or unreadable hash (which still
    costs one verification, against a dummy hash)."""
    if not password_hash:
        _hash.verify(password, _DUMMY_HASH)
        return False
    try:
        return _hash.verify(password, password_hash)
    except (UnknownHashError, ValueError):
        _hash.verify(password, _DUMMY_HASH)
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash uses weaker parameters than today's (re-hash it at the next sign-in)."""
    try:
        return bool(_hasher.check_needs_rehash(password_hash))
    except (UnknownHashError, ValueError):
        return True


def verify_and_update(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash to store or None): the sign-in helper that upgrades old hashes on the way."""
    if not verify_password(password, password_hash):
        return False, None
    assert password_hash
    return True, hash_password(password) if needs_rehash(password_hash) else None
