"""HMAC-signed tokens for the links a reader follows (confirm, unsubscribe, manage, feedback)
and for the forms they post (CSRF), all keyed by the secret in ``PAPERDIGEST_SECRET``.

A token is ``<field>.<field>...<expiry>.<mac>``: the fields are plain (a subscriber id, a paper
id; nothing secret), the expiry is a Unix time or ``0`` (never), and the MAC is the first 128
bits of HMAC-SHA256 over the purpose and the rest, under a key derived per purpose. So a token
made for one purpose is worthless for another, and nothing can be changed without the secret.
Only confirmation links expire (7 days): unsubscribe and manage links must keep working in old
emails, and feedback links are as old as the email that carries them.

The secret itself never leaves this module: not in a repr, an error, a page or a log line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from paperdigest.config import SECRET_ENV
from paperdigest.errors import ConfigError

SECRET_MIN_LENGTH = 32
CONFIRM_TTL = timedelta(days=7)
MAX_TOKEN_LENGTH = 200
_FIELD_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class BadToken(Exception):
    """A token that was not made here, or was altered: it changes nothing."""


class ExpiredToken(BadToken):
    """A genuine token past its expiry."""


def load_secret(environ: Mapping[str, str] | None = None) -> str:
    """The signing secret from ``PAPERDIGEST_SECRET``; a missing or short one is a config error
    whose message never repeats the value."""
    value = (os.environ if environ is None else environ).get(SECRET_ENV, "")
    if not value.strip():
        raise ConfigError(f"{SECRET_ENV} is not set: the web app signs its links and forms with it; set it to a "
                          "long random string, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if len(value) < SECRET_MIN_LENGTH:
        raise ConfigError(f"{SECRET_ENV} is too short: use at least {SECRET_MIN_LENGTH} random characters")
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Signer:
    """Signs and checks tokens. Holds only keys derived from the secret, never the secret."""

    def __init__(self, secret: str) -> None:
        root = hashlib.sha256(b"paperdigest-web\0" + secret.encode("utf-8")).digest()
        self._root = root
        self._keys: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return "Signer(<secret hidden>)"

    def _key(self, purpose: str) -> bytes:
        key = self._keys.get(purpose)
        if key is None:
            key = self._keys[purpose] = hmac.new(self._root, purpose.encode("ascii"), hashlib.sha256).digest()
        return key

    def mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self._key(purpose), body.encode("utf-8"), hashlib.sha256).digest()[:16])

    def sign(self, purpose: str, *fields: int | str, expires: datetime | None = None) -> str:
        parts = [str(f) for f in fields]
        for p in parts:
            if not _FIELD_RE.fullmatch(p):
                raise ValueError(f"token field {p!r} is not plain")
        parts.append(str(int(expires.timestamp())) if expires is not None else "0")
        body = ".".join(parts)
        return f"{body}.{self.mac(purpose, body)}"

    def verify(self, purpose: str, token: str, now: datetime, *, fields: int) -> list[str]:
        """The token's fields, if it was made here for ``purpose`` with that many fields.

        Raises :class:`BadToken` (forged, altered, malformed) or :class:`ExpiredToken`."""
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise BadToken("malformed")
        body, _, mac = token.rpartition(".")
        parts = body.split(".")
        if len(parts) != fields + 1 or not all(_FIELD_RE.fullmatch(p) for p in parts):
            raise BadToken("malformed")
        if not hmac.compare_digest(mac, self.mac(purpose, body)):
            raise BadToken("bad signature")
        expiry = parts[-1]
        if not expiry.isdigit():
            raise BadToken("malformed")
        if expiry != "0" and now.timestamp() > int(expiry):
            raise ExpiredToken("expired")
        return parts[:-1]
