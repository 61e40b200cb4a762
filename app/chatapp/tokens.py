"""Resume tokens: who a client is, signed so that nobody can claim another user's id.

A token is ``base64url(payload) + "." + base64url(HMAC-SHA256(secret, payload))`` where
the payload is the compact JSON ``{"uid", "nick", "iat", "exp"}`` (epoch seconds). It
is valid for 7 days and reissued in every `hello`, so an active client never sees it
expire. No I/O: the caller passes the secret and the clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

TOKEN_LIFETIME = 7 * 24 * 3600


class TokenError(Exception):
    """A token that does not prove an identity; `reason`: malformed, forged or expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the resume token is {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    nickname: str
    issued_at: int
    expires_at: int


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    if not text or len(text) % 4 == 1:
        raise TokenError("malformed")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise TokenError("malformed") from None


def _sign(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), payload, hashlib.sha256).digest()


def issue(secret: str, user_id: str, nickname: str, now: float) -> str:
    """A token for `user_id` valid for TOKEN_LIFETIME from `now`."""
    issued = int(now)
    payload = json.dumps(
        {"uid": user_id, "nick": nickname, "iat": issued, "exp": issued + TOKEN_LIFETIME},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    return _encode(payload) + "." + _encode(_sign(secret, payload))


def verify(secret: str, token: str, now: float) -> Identity:
    """The identity `token` proves at `now`; TokenError if malformed, forged or expired."""
    head, dot, tail = token.partition(".")
    if not dot or "." in tail:
        raise TokenError("malformed")
    payload, signature = _decode(head), _decode(tail)
    if not hmac.compare_digest(signature, _sign(secret, payload)):
        raise TokenError("forged")
    try:
        data = json.loads(payload)
    except ValueError:
        raise TokenError("malformed") from None
    if not isinstance(data, dict):
        raise TokenError("malformed")
    uid, nick, iat, exp = data.get("uid"), data.get("nick"), data.get("iat"), data.get("exp")
    if not (
        isinstance(uid, str)
        and uid.isdigit()
        and isinstance(nick, str)
        and type(iat) is int
        and type(exp) is int
    ):
        raise TokenError("malformed")
    if exp <= now:
        raise TokenError("expired")
    return Identity(user_id=uid, nickname=nick, issued_at=iat, expires_at=exp)
