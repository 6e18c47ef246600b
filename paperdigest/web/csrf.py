"""CSRF protection without sessions: a signed double-submit token.

A page with a form sets a random cookie (``HttpOnly``, ``SameSite=Strict``, ``Secure`` over
https) and puts the cookie's MAC under the secret in a hidden field. A POST is accepted only
when the field is the MAC of the cookie it arrives with: another site can make a browser send
the cookie, but cannot read it, and without the secret cannot make the field.
"""

from __future__ import annotations

import hmac
import secrets

from paperdigest.delivery.signing import Signer

COOKIE = "pd_csrf"
FIELD = "csrf"


def new_cookie() -> str:
    return secrets.token_urlsafe(18)


def form_token(signer: Signer, cookie: str) -> str:
    return signer.mac("csrf", cookie)


def valid(signer: Signer, cookie: str | None, field: str | None) -> bool:
    if not cookie or not field or len(cookie) > 64 or len(field) > 64:
        return False
    return hmac.compare_digest(field, form_token(signer, cookie))
