"""argon2 hashing and the password policy."""

from __future__ import annotations

import pytest

from camsvc.auth.passwords import (
    PasswordPolicyError,
    check_password,
    hash_password,
    needs_rehash,
    verify_and_update,
    verify_password,
)


def test_hash_and_verify() -> None:
    h = hash_password("correct horse battery")
    assert h.startswith("$argon2id$")
    assert "correct horse" not in h
    assert verify_password("correct horse battery", h)
    assert not verify_password("correct horse batterY", h)
    assert hash_password("correct horse battery") != h  # salted
    assert not needs_rehash(h)
    assert verify_and_update("correct horse battery", h) == (True, None)


def test_no_or_bad_hash_is_false_not_an_error() -> None:
    assert not verify_password("whatever123", "")
    assert not verify_password("whatever123", None)
    assert not verify_password("whatever123", "plaintext-from-somewhere")
    assert verify_and_update("whatever123", None) == (False, None)


def test_weaker_hash_is_upgraded_on_sign_in() -> None:
    from pwdlib.hashers.argon2 import Argon2Hasher

    weak = Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse battery")
    assert needs_rehash(weak)
    ok, new = verify_and_update("correct horse battery", weak)
    assert ok and new is not None and not needs_rehash(new)
    assert verify_password("correct horse battery", new)


@pytest.mark.parametrize(
    "password,username,code",
    [
        ("short", "lan", "too_short"),
        ("123456789", "lan", "too_short"),
        ("          ", "lan", "blank"),
        ("", "lan", "blank"),
        ("x" * 1025, "lan", "too_long"),
        ("nguyenvanlan", "NguyenVanLan", "is_username"),
        (" nguyenvanlan ", "nguyenvanlan", "is_username"),
    ],
)
def test_policy_refuses(password: str, username: str, code: str) -> None:
    with pytest.raises(PasswordPolicyError) as exc:
        check_password(password, username)
    assert exc.value.code == code
    assert str(exc.value)  # a readable message


@pytest.mark.parametrize("password", ["0123456789", "mật khẩu dài đủ", "x" * 1024])
def test_policy_accepts(password: str) -> None:
    check_password(password, "lan")
