"""Fetch one live source over HTTP, safely and politely.

Fetching only classifies failures; retrying is the caller's job (Prefect task retries in the
flow, :func:`fetch_with_retries` elsewhere), and both retry paths share :func:`retry_delay`.

Safety: only http/https URLs, checked again on every redirect hop (redirects are followed here,
not inside httpx, so a ``Location: file:///etc/passwd`` never reaches a transport); the body is
streamed and abandoned past ``max_bytes`` (counted after decompression, so a gzip bomb stops too)
and past a total deadline (so a server dripping a byte at a time cannot hold a run forever).
Error messages are one line and name the URL with credentials and token-like query values masked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from paperdigest import USER_AGENT
from paperdigest.errors import FetchError, TransientFetchError

ALLOWED_SCHEMES = frozenset({"http", "https"})
ACCEPT = (
    "application/json, application/feed+json, application/rss+xml, application/atom+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, text/plain;q=0.7, */*;q=0.1"
)
# A server asking for a longer pause than this is treated as asking for this long: a daily
# run must not sleep for hours on one source.
MAX_RETRY_AFTER = 300.0
# Without an explicit total deadline, a fetch may take this many read timeouts in all.
TOTAL_TIMEOUT_FACTOR = 4
_TRANSIENT_STATUS = frozenset({408, 429})
_SECRET_PARAM_RE = re.compile(
    r"token|key|secret|passw|pwd|auth|sig|session|credential|cookie", re.IGNORECASE
)
_MASK = "***"


@dataclass(frozen=True)
class Validators:
    """What a server said about a body's version, sent back for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out


@dataclass(frozen=True)
class FetchResult:
    url: str
    status: int
    content: bytes
    content_type: str | None
    validators: Validators

    @property
    def not_modified(self) -> bool:
        return self.status == 304


# --------------------------------------------------------------------------- redaction


def _is_secret_param(name: str) -> bool:
    return bool(_SECRET_PARAM_RE.search(unquote(name)))


def redact_url(url: str) -> str:
    """The URL fit for a log line: no ``user:pass@``, no fragment, token-like values masked."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc.rpartition("@")[2]
    segments = []
    for seg in parts.query.split("&") if parts.query else []:
        name, eq, _value = seg.partition("=")
        segments.append(f"{name}={_MASK}" if eq and _is_secret_param(name) else seg)
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(segments), ""))


def _secrets_of(url: str) -> list[str]:
    """The literal strings of ``url`` that must never appear in a message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        found.append(userinfo)
        found.extend(p for p in userinfo.split(":") if p)
    for seg in parts.query.split("&") if parts.query else []:
        name, eq, value = seg.partition("=")
        if eq and value and _is_secret_param(name):
            found.extend({value, unquote(value)})
    return sorted((s for s in found if len(s) >= 3), key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    for secret in _secrets_of(url):
        text = text.replace(secret, _MASK)
    return text


# --------------------------------------------------------------------------- retry policy


def is_transient(exc: BaseException) -> bool:
    """Is ``exc`` worth another try? (Also Prefect's ``retry_condition_fn`` predicate.)"""
    if isinstance(exc, TransientFetchError):
        return True
    if isinstance(exc, FetchError):
        return False
    return isinstance(exc, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError))


def retry_delay(exc: BaseException, attempt: int, backoff: float = 1.0) -> float | None:
    """Seconds to wait before retry number ``attempt`` (0-based), or None to give up now.

    Exponential backoff, but never sooner than the server's ``Retry-After``.
    """
    if not is_transient(exc):
        return None
    delay = max(0.0, backoff) * 2.0 ** min(max(0, attempt), 30)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return min(delay, MAX_RETRY_AFTER)


def parse_retry_after(value: str | None, date_header: str | None = None) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or HTTP-date), capped at ``MAX_RETRY_AFTER``.

    An HTTP-date is measured against the response's own ``Date`` header when there is one,
    so a skewed local clock does not matter.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    ref: datetime | None = None
    if date_header:
        try:
            ref = parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            ref = None
        if ref is not None and ref.tzinfo is None:
            ref = ref.replace(tzinfo=timezone.utc)
    if ref is None:
        ref = datetime.now(timezone.utc)
    return min(max(0.0, (when - ref).total_seconds()), MAX_RETRY_AFTER)


# --------------------------------------------------------------------------- fetching


def make_client(*, timeout: float = 20.0, max_redirects: int = 5) -> httpx.Client:
    """One client per run: pooled connections, bounded timeouts and redirects, our User-Agent."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        max_redirects=max_redirects,
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
    )


def _check_scheme(url: httpx.URL, shown: str, what: str = "URL") -> None:
    if url.scheme not in ALLOWED_SCHEMES:
        raise FetchError(f"{shown}: refusing {what} with scheme {url.scheme or '(none)'!r}, only http/https")
    if not url.host:
        raise FetchError(f"{shown}: {what} has no host")


def _read_timeout(client: httpx.Client, timeout: float | None) -> float | None:
    if timeout is not None:
        return timeout
    return client.timeout.read


def fetch_source(
    client: httpx.Client,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    validators: Validators | None = None,
    max_bytes: int,
    timeout: float | None = None,
    total_timeout: float | None = None,
) -> FetchResult:
    """GET ``url`` (conditionally, when ``validators`` are given) and return its body.

    ``timeout`` overrides the client's connect/read timeouts; ``total_timeout`` bounds the whole
    fetch, redirects and body included (default: ``TOTAL_TIMEOUT_FACTOR`` read timeouts).
    Raises :class:`TransientFetchError` for what may pass (timeouts, connection errors, 408,
    429, 5xx) and :class:`FetchError` for what will not.
    """
    raw = str(url)
    shown = redact_url(raw)
    try:
        target = httpx.URL(raw)
        if params:
            target = target.copy_merge_params(dict(params))
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError(f"{shown}: invalid URL ({_scrub(str(exc), raw)})") from None
    raw = str(target)
    shown = redact_url(raw)
    _check_scheme(target, shown)

    read_timeout = _read_timeout(client, timeout)
    if total_timeout is None and read_timeout is not None:
        total_timeout = TOTAL_TIMEOUT_FACTOR * read_timeout
    deadline = None if total_timeout is None else time.monotonic() + total_timeout
    sent = validators or Validators()
    request_timeout: Any = httpx.USE_CLIENT_DEFAULT if timeout is None else httpx.Timeout(timeout)

    try:
        request = client.build_request("GET", target, headers=sent.headers(), timeout=request_timeout)
        hops = 0
        while True:
            response = client.send(request, stream=True, follow_redirects=False)
            try:
                next_request = response.next_request
                if next_request is None:
                    return _finish(response, raw, sent, max_bytes, deadline)
                hops += 1
                if hops > client.max_redirects:
                    raise FetchError(f"{shown}: more than {client.max_redirects} redirects")
                _check_scheme(
                    next_request.url, shown, f"redirect to {redact_url(str(next_request.url))}"
                )
                if deadline is not None and time.monotonic() > deadline:
                    raise TransientFetchError(f"{shown}: gave up after {total_timeout:g} s in redirects")
                request = next_request
            finally:
                response.close()
    except FetchError:
        raise
    except httpx.InvalidURL as exc:  # only a redirect's Location can be invalid by now
        raise FetchError(f"{shown}: invalid redirect location ({_scrub(str(exc), raw)})") from None
    except httpx.TimeoutException as exc:
        raise TransientFetchError(f"{shown}: timed out ({_kind(exc)})") from None
    except httpx.UnsupportedProtocol as exc:
        raise FetchError(f"{shown}: unsupported protocol ({_scrub(str(exc), raw)})") from None
    except httpx.DecodingError as exc:
        raise FetchError(f"{shown}: undecodable body ({_scrub(str(exc), raw)})") from None
    except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
        detail = _scrub(str(exc), raw) or _kind(exc)
        raise TransientFetchError(f"{shown}: connection failed ({detail})") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{shown}: {_kind(exc)} ({_scrub(str(exc), raw)})") from None


def _kind(exc: BaseException) -> str:
    """``ReadTimeout`` -> ``read timeout``: a stable, URL-free description of an httpx error."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", type(exc).__name__).lower()


def _finish(
    response: httpx.Response, raw: str, sent: Validators, max_bytes: int, deadline: float | None
) -> FetchResult:
    """Classify a final (non-redirect) response and read its body within the limits."""
    final = str(response.url)
    shown = redact_url(raw if final == raw else final)
    status = response.status_code
    content_type = response.headers.get("Content-Type")
    if status == 304:
        got = Validators(
            etag=response.headers.get("ETag") or sent.etag,
            last_modified=response.headers.get("Last-Modified") or sent.last_modified,
        )
        return FetchResult(final, 304, b"", content_type, got)
    reason = f"HTTP {status} {response.reason_phrase}".rstrip()
    if status in _TRANSIENT_STATUS or 500 <= status <= 599:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), response.headers.get("Date"))
        hint = f", retry after {retry_after:g} s" if retry_after is not None else ""
        raise TransientFetchError(f"{shown}: {reason}{hint}", retry_after=retry_after)
    if not 200 <= status <= 299:
        raise FetchError(f"{shown}: {reason}")

    too_big = f"{shown}: response larger than {max_bytes} bytes"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and "Content-Encoding" not in response.headers and int(declared) > max_bytes:
        raise FetchError(f"{too_big} (Content-Length {declared})")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(too_big)
        chunks.append(chunk)
        if deadline is not None and time.monotonic() > deadline:
            raise TransientFetchError(f"{shown}: body still arriving at the deadline ({size} bytes read)")
    return FetchResult(
        final,
        status,
        b"".join(chunks),
        content_type,
        Validators(etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified")),
    )


def fetch_with_retries(
    client: httpx.Client,
    url: str,
    *,
    attempts: int = 3,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    **kw: Any,
) -> FetchResult:
    """:func:`fetch_source`, retrying transient failures (for callers outside Prefect)."""
    for attempt in range(max(1, attempts)):
        try:
            return fetch_source(client, url, **kw)
        except FetchError as exc:
            delay = retry_delay(exc, attempt, backoff)
            if delay is None or attempt + 1 >= attempts:
                raise
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
