"""Resume tokens: issued, verified, and refused when forged, expired or malformed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from chatapp import tokens

SECRET = "s" * 40
NOW = 1_700_000_000.0


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(payload: dict[str, object], secret: str = SECRET) -> str:
    raw = json.dumps(payload).encode()
    return _b64(raw) + "." + _b64(hmac.new(secret.encode(), raw, hashlib.sha256).digest())


def test_a_token_proves_its_user_for_seven_days() -> None:
    token = tokens.issue(SECRET, "42", "ann", NOW)
    identity = tokens.verify(SECRET, token, NOW + 7 * 24 * 3600 - 1)
    assert (identity.user_id, identity.nickname) == ("42", "ann")
    assert identity.expires_at - identity.issued_at == tokens.TOKEN_LIFETIME


def test_the_payload_is_the_documented_json() -> None:
    token = tokens.issue(SECRET, "42", "ann", NOW)
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert payload == {"uid": "42", "nick": "ann", "iat": int(NOW), "exp": int(NOW) + 604800}


def _tampered_payload() -> str:
    token = tokens.issue(SECRET, "42", "ann", NOW)
    other = _b64(json.dumps({"uid": "1", "nick": "x", "iat": 1, "exp": 2**40}).encode())
    return other + "." + token.split(".")[1]


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (tokens.issue("another-secret-of-enough-length!!", "42", "ann", NOW), "forged"),
        (_tampered_payload(), "forged"),
        (signed({"uid": "1", "nick": "x", "iat": 1, "exp": 2**40}, "k" * 40), "forged"),
        (tokens.issue(SECRET, "42", "ann", NOW - tokens.TOKEN_LIFETIME), "expired"),
        (signed({"uid": "1", "nick": "x", "iat": 0, "exp": int(NOW)}), "expired"),
        (signed({"uid": 1, "nick": "x", "iat": 0, "exp": 2**40}), "malformed"),
        (signed({"uid": "abc", "nick": "x", "iat": 0, "exp": 2**40}), "malformed"),
        (signed({"uid": "1", "nick": "x", "iat": 0, "exp": "later"}), "malformed"),
        (signed(["not", "an", "object"]), "malformed"),  # type: ignore[arg-type]
        ("", "malformed"),
        ("no-dot", "malformed"),
        ("a.b.c", "malformed"),
        ("%%%.###", "malformed"),
    ],
)
def test_bad_tokens_are_refused(token: str, reason: str) -> None:
    with pytest.raises(tokens.TokenError) as raised:
        tokens.verify(SECRET, token, NOW)
    assert raised.value.reason == reason
