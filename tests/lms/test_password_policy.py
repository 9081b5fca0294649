"""Password rules after the NCSC's guidance: length, a deny-list, nothing personal."""

from __future__ import annotations

import pytest
from flask import Flask

from lms.accounts import (
    MAX_PASSWORD_LENGTH,
    PasswordRejected,
    check_password_policy,
    common_passwords,
    hash_new_password,
)


@pytest.mark.parametrize(
    "password",
    [
        "tidy otter lantern river",  # three or four random words
        "correcthorsebatterystap1e",
        "ŝtelo-kaj-fromaĝo-kun-teo",  # any characters
        "all lower case and fine",  # no composition rules: no digit, no capital, no symbol
        "x" * 11 + "y",  # 12 characters is enough
        "a" + "b" * 10 + "c",
        "w" * (MAX_PASSWORD_LENGTH - 1) + "z",  # long passphrases allowed
    ],
)
def test_good_passwords_pass(app: Flask, password: str) -> None:
    assert check_password_policy(password, email="sam@example.com", name="Sam Worker") == []


def test_too_short(app: Flask) -> None:
    problems = check_password_policy("short pass")
    assert problems == [
        "Use at least 12 characters. Three random words together make a good password that is "
        "easy to remember."
    ]


def test_too_long(app: Flask) -> None:
    assert check_password_policy("ab" * 129) == ["Use at most 256 characters."]


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "Password1234!",
        "QWERTYUIOPAS",
        "1q2w3e4r5t6y",
        "liverpool2026",
        "carecred123456",
        "Welcome 12345",
    ],
)
def test_common_passwords_are_refused(app: Flask, password: str) -> None:
    problems = check_password_policy(password)
    assert any("most commonly used" in p for p in problems), problems


def test_one_repeated_character_is_refused(app: Flask) -> None:
    assert check_password_policy("aaaaaaaaaaaaaaa") == [
        "Do not repeat one character: choose words instead."
    ]


@pytest.mark.parametrize(
    "password", ["Okafor-Amira-1", "amira.okafor1!", "amiraokafor2026", "AMIRA OKAFOR 99"]
)
def test_personal_passwords_are_refused(app: Flask, password: str) -> None:
    problems = check_password_policy(
        password, email="amira.okafor@example.com", name="Amira Okafor"
    )
    assert problems == ["Do not base your password on your name or e-mail address."]


def test_a_name_inside_a_real_passphrase_is_fine(app: Flask) -> None:
    assert check_password_policy("amira likes purple teapots", name="Amira Okafor") == []


def test_email_itself_is_refused(app: Flask) -> None:
    problems = check_password_policy("sam.worker@example.com", email="sam.worker@example.com")
    assert problems == ["Do not base your password on your name or e-mail address."]


def test_deny_list_is_shipped_and_folded(app: Flask) -> None:
    words = common_passwords()
    assert len(words) > 500
    assert all(w == w.lower() and " " not in w for w in words)


def test_hash_new_password_raises_with_every_problem(app: Flask) -> None:
    from flask import current_app

    hasher = current_app.extensions["password_hasher"]
    with pytest.raises(PasswordRejected) as err:
        hash_new_password(hasher, "samsam", email="sam@example.com")
    assert err.value.problems[0].startswith("Use at least 12 characters.")
    assert err.value.status == 400
    hashed = hash_new_password(hasher, "tidy otter lantern river")
    assert hasher.verify(hashed, "tidy otter lantern river")
