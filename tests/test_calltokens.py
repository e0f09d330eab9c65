"""The call token: one per attempt, bound to its ids and the secret, checked in constant time."""

from __future__ import annotations

import pytest

from app.calltokens import TOKEN_LENGTH, CallTokens, call_token
from app.config import call_token_secret_problem

SECRET = "s" * 40


def test_it_signs_each_attempt_with_a_token_of_its_own():
    tokens = CallTokens(SECRET)
    token = tokens.token(21, 5, 1)
    assert len(token) == TOKEN_LENGTH and int(token, 16) >= 0
    assert token == call_token(SECRET, "21", "5", "1")  # ids as the dialplan writes them
    others = {tokens.token(21, 5, 2), tokens.token(21, 6, 1), tokens.token(22, 5, 1),
              tokens.token(2, 15, 1), CallTokens("t" * 40).token(21, 5, 1)}
    assert token not in others and len(others) == 5


@pytest.mark.parametrize("given", [
    "", "0" * TOKEN_LENGTH, "é" * TOKEN_LENGTH, "x", None,
])
def test_it_refuses_a_token_that_is_not_the_attempts_own(given):
    assert CallTokens(SECRET).matches(21, 5, 1, given) is False


def test_it_accepts_the_attempts_token_and_no_other_attempts():
    tokens = CallTokens(SECRET)
    token = tokens.token(21, 5, 1)
    assert tokens.matches(21, 5, 1, token)
    assert not tokens.matches(21, 5, 2, token)
    assert not tokens.matches(999999, 5, 1, token)
    assert not CallTokens("t" * 40).matches(21, 5, 1, token)
    assert not tokens.matches(21, 5, 1, token.upper())


@pytest.mark.parametrize("secret, problem", [
    ("dev-only-call-token-secret", "published"),
    ("change-me-call-token", "published"),
    ("short", "at least 32 characters"),
    ("z" * 32, None),
])
def test_it_names_what_is_wrong_with_a_call_token_secret(secret, problem):
    found = call_token_secret_problem(secret)
    assert (found is None) if problem is None else (problem in found)
