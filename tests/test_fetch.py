"""flows.fetch against a real HTTP server on 127.0.0.1 (tests/http_server.py)."""

from __future__ import annotations

import gzip
import html
import json
import re
import socket
import time
from collections.abc import Iterator
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from pathlib import Path

import feedparser
import httpx
import pytest

import paperdigest
from paperdigest.errors import FetchError, InputError, TransientFetchError
from paperdigest.sources.fetch import (
    MAX_RETRY_AFTER,
    FetchResult,
    Validators,
    fetch_source,
    fetch_with_retries,
    is_transient,
    make_client,
    parse_retry_after,
    redact_url,
    retry_delay,
)

try:
    from http_server import Reply, ScriptedServer, Seen
except ImportError:  # tests/ collected as a package
    from tests.http_server import Reply, ScriptedServer, Seen  # type: ignore[no-redef]

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "http"
MB = 1024 * 1024


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(timeout=5.0) as c:
        yield c


def _sent_requests(client: httpx.Client) -> list[httpx.Request]:
    """Record every request the client puts on the wire (redirect hops included)."""
    seen: list[httpx.Request] = []
    client.event_hooks["request"].append(seen.append)
    return seen


# --------------------------------------------------------------------------- formats


def _check_api(body: bytes) -> int:
    return sum(1 for item in json.loads(body) if item["paper"]["id"] and item["paper"]["summary"])


def _check_jsonfeed(body: bytes) -> int:
    data = json.loads(body)
    assert data["version"].startswith("https://jsonfeed.org/version/1")
    return sum(1 for item in data["items"] if item["title"] and item["content_text"])


def _check_feed(body: bytes) -> int:
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return sum(1 for e in parsed.entries if e.title and e.summary)


def _check_text(body: bytes) -> int:
    text = body.decode("utf-8")
    return sum(1 for line in text.splitlines() if len(line) > 120)  # abstracts are the long lines


def _check_html(body: bytes) -> int:
    m = re.search(rb'data-props="([^"]*)"', body)
    assert m, "no data-props attribute"
    props = json.loads(html.unescape(m.group(1).decode("utf-8")))
    return len(props["dailyPapers"])


FORMATS = [
    ("hf_daily_papers.json", "application/json; charset=utf-8", _check_api),
    ("jsonfeed.json", "application/feed+json", _check_jsonfeed),
    ("rss.xml", "application/rss+xml; charset=utf-8", _check_feed),
    ("atom.xml", "application/atom+xml", _check_feed),
    ("listing.txt", "text/plain; charset=utf-8", _check_text),
    ("listing.html", "text/html; charset=utf-8", _check_html),
]


@pytest.mark.parametrize(("name", "ctype", "check"), FORMATS, ids=[f[0] for f in FORMATS])
def test_200_returns_body_and_content_type_for_each_format(
    server: ScriptedServer, client: httpx.Client, name: str, ctype: str, check: object
) -> None:
    body = (FIXTURES / name).read_bytes()
    server.script("/src", Reply(200, {"Content-Type": ctype}, body))

    result = fetch_source(client, server.url("/src"), max_bytes=MB)

    assert isinstance(result, FetchResult)
    assert (result.status, result.not_modified) == (200, False)
    assert result.content == body
    assert result.content_type == ctype
    assert result.url == server.url("/src")
    assert result.validators == Validators()  # the server sent none
    assert 3 <= check(body) <= 5  # type: ignore[operator]  # the fixture is what it claims to be


def test_user_agent_and_accept_headers(server: ScriptedServer, client: httpx.Client) -> None:
    server.script("/src", Reply(200, {"Content-Type": "application/json"}, b"[]"))
    fetch_source(client, server.url("/src"), max_bytes=100)
    (seen,) = server.requests_to("/src")
    ua = seen.headers["User-Agent"]
    assert f"paperdigest/{paperdigest.__version__}" in ua and ua == paperdigest.USER_AGENT
    accept = seen.headers["Accept"]
    for kind in ("application/json", "application/rss+xml", "application/atom+xml", "text/html", "text/plain"):
        assert kind in accept
    assert "If-None-Match" not in seen.headers and "If-Modified-Since" not in seen.headers


def test_params_are_merged_into_the_query(server: ScriptedServer, client: httpx.Client) -> None:
    server.script("/api/daily_papers", Reply(200, {"Content-Type": "application/json"}, b"[]"))
    url = server.url("/api/daily_papers?sort=trending")
    result = fetch_source(client, url, params={"date": "2025-03-19", "limit": "50"}, max_bytes=100)
    (seen,) = server.requests_to("/api/daily_papers")
    assert seen.query == "sort=trending&date=2025-03-19&limit=50"
    assert result.url.endswith("?sort=trending&date=2025-03-19&limit=50")


def test_gzip_body_is_decoded(server: ScriptedServer, client: httpx.Client) -> None:
    body = (FIXTURES / "rss.xml").read_bytes()
    server.script("/rss", Reply(200, {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}, gzip.compress(body)))
    assert fetch_source(client, server.url("/rss"), max_bytes=MB).content == body


def test_wrong_content_type_is_returned_not_rejected(server: ScriptedServer, client: httpx.Client) -> None:
    body = (FIXTURES / "hf_daily_papers.json").read_bytes()
    server.script("/api", Reply(200, {"Content-Type": "text/html; charset=utf-8"}, body))
    result = fetch_source(client, server.url("/api"), max_bytes=MB)
    assert result.content == body and result.content_type == "text/html; charset=utf-8"


def test_missing_content_type_is_none(server: ScriptedServer, client: httpx.Client) -> None:
    server.script("/bare", Reply(200, {}, b"hello"))
    result = fetch_source(client, server.url("/bare"), max_bytes=100)
    assert (result.content, result.content_type) == (b"hello", None)


# --------------------------------------------------------------------------- conditional GET


def _conditional(etag: str, last_modified: str, body: bytes) -> object:
    def respond(seen: Seen) -> Reply:
        headers = {"ETag": etag, "Last-Modified": last_modified, "Content-Type": "application/feed+json"}
        if seen.headers.get("If-None-Match") == etag:
            return Reply(304, {"ETag": etag})
        return Reply(200, headers, body)

    return respond


def test_validators_captured_then_conditional_request_gets_304(server: ScriptedServer, client: httpx.Client) -> None:
    body = (FIXTURES / "jsonfeed.json").read_bytes()
    lm = "Wed, 19 Mar 2025 07:05:00 GMT"
    server.script("/feed", _conditional('"v1-abc"', lm, body))  # type: ignore[arg-type]

    first = fetch_source(client, server.url("/feed"), max_bytes=MB)
    assert first.status == 200 and first.content == body
    assert first.validators == Validators(etag='"v1-abc"', last_modified=lm)

    second = fetch_source(client, server.url("/feed"), validators=first.validators, max_bytes=MB)
    assert second.not_modified and second.status == 304
    assert second.content == b""
    assert second.validators == first.validators

    seen = server.requests_to("/feed")
    assert len(seen) == 2
    assert seen[1].headers["If-None-Match"] == '"v1-abc"'
    assert seen[1].headers["If-Modified-Since"] == lm


def test_changed_etag_gets_a_fresh_200(server: ScriptedServer, client: httpx.Client) -> None:
    body = (FIXTURES / "atom.xml").read_bytes()
    server.script("/atom", _conditional('"v2"', "Thu, 20 Mar 2025 06:30:00 GMT", body))  # type: ignore[arg-type]
    result = fetch_source(client, server.url("/atom"), validators=Validators(etag='"v1"'), max_bytes=MB)
    assert result.status == 200 and result.content == body and result.validators.etag == '"v2"'


def test_304_keeps_sent_validators_and_takes_updated_ones(server: ScriptedServer, client: httpx.Client) -> None:
    sent = Validators(etag='"old"', last_modified="Tue, 18 Mar 2025 00:00:00 GMT")
    server.script("/a", Reply(304, {}))
    assert fetch_source(client, server.url("/a"), validators=sent, max_bytes=10).validators == sent
    server.script("/b", Reply(304, {"ETag": '"new"'}))
    got = fetch_source(client, server.url("/b"), validators=sent, max_bytes=10).validators
    assert got == Validators(etag='"new"', last_modified=sent.last_modified)
    (seen,) = server.requests_to("/a")
    assert "If-None-Match" in seen.headers and "If-Modified-Since" in seen.headers


# --------------------------------------------------------------------------- transient errors and retries


def test_429_with_retry_after_is_transient_and_honoured(server: ScriptedServer, client: httpx.Client) -> None:
    body = (FIXTURES / "rss.xml").read_bytes()
    server.script("/rss", Reply(429, {"Retry-After": "2"}), Reply(200, {"Content-Type": "application/rss+xml"}, body))

    with pytest.raises(TransientFetchError) as info:
        fetch_source(client, server.url("/rss"), max_bytes=MB)
    assert info.value.retry_after == 2
    assert is_transient(info.value) and "HTTP 429" in str(info.value)

    server.script("/rss", Reply(429, {"Retry-After": "2"}), Reply(200, {"Content-Type": "application/rss+xml"}, body))
    delays: list[float] = []
    result = fetch_with_retries(client, server.url("/rss"), backoff=0.1, sleep=delays.append, max_bytes=MB)
    assert result.content == body
    assert delays == [2.0]  # max(0.1 * 2**0, Retry-After 2)
    assert len(server.requests_to("/rss")) == 3


def test_500_then_200_is_retried_with_backoff(server: ScriptedServer, client: httpx.Client) -> None:
    server.script("/x", Reply(500), Reply(503), Reply(200, {"Content-Type": "text/plain"}, b"ok"))
    delays: list[float] = []
    result = fetch_with_retries(client, server.url("/x"), attempts=3, backoff=0.25, sleep=delays.append, max_bytes=10)
    assert result.content == b"ok"
    assert delays == [0.25, 0.5]
    assert len(server.requests_to("/x")) == 3


def test_retries_give_up_after_attempts(server: ScriptedServer, client: httpx.Client) -> None:
    server.script("/down", Reply(502))
    delays: list[float] = []
    with pytest.raises(TransientFetchError, match="HTTP 502"):
        fetch_with_retries(client, server.url("/down"), attempts=3, backoff=0.01, sleep=delays.append, max_bytes=10)
    assert len(server.requests_to("/down")) == 3 and len(delays) == 2


def test_404_is_permanent_and_not_retried(server: ScriptedServer, client: httpx.Client) -> None:
    server.script("/gone", Reply(404, {"Content-Type": "text/plain"}, b"nope"))
    delays: list[float] = []
    with pytest.raises(FetchError) as info:
        fetch_with_retries(client, server.url("/gone"), attempts=5, sleep=delays.append, max_bytes=10)
    assert not isinstance(info.value, TransientFetchError) and isinstance(info.value, InputError)
    assert not is_transient(info.value)
    assert str(info.value) == f"{server.url('/gone')}: HTTP 404 Not Found"
    assert delays == [] and len(server.requests_to("/gone")) == 1


@pytest.mark.parametrize("status", [408, 503])
def test_other_transient_statuses(server: ScriptedServer, client: httpx.Client, status: int) -> None:
    server.script("/t", Reply(status))
    with pytest.raises(TransientFetchError) as info:
        fetch_source(client, server.url("/t"), max_bytes=10)
    assert info.value.retry_after is None


def test_stall_before_headers_is_a_quick_transient_error(server: ScriptedServer) -> None:
    server.script("/slow", Reply(200, {}, b"late", delay=5.0))
    with make_client(timeout=20.0) as client:  # the per-fetch timeout overrides the client's
        start = time.monotonic()
        with pytest.raises(TransientFetchError, match="timed out"):
            fetch_source(client, server.url("/slow"), max_bytes=100, timeout=0.5)
        elapsed = time.monotonic() - start
    assert 0.4 < elapsed < 2.0


def test_stall_mid_body_is_a_transient_error(server: ScriptedServer, client: httpx.Client) -> None:
    server.script("/half", Reply(200, {"Content-Type": "text/plain"}, b"x" * 4000, chunk_size=1000, stall_after=1000, stall=5.0))
    start = time.monotonic()
    with pytest.raises(TransientFetchError, match="read timeout"):
        fetch_source(client, server.url("/half"), max_bytes=MB, timeout=0.5)
    assert time.monotonic() - start < 2.0


def test_dripping_body_hits_the_total_deadline(server: ScriptedServer, client: httpx.Client) -> None:
    # 10 bytes every 50 ms never trips the 0.5 s read timeout, and would take 10 s in all.
    server.script("/drip", Reply(200, {}, b"y" * 2000, chunked=True, chunk_size=10, chunk_delay=0.05))
    start = time.monotonic()
    with pytest.raises(TransientFetchError, match="deadline"):
        fetch_source(client, server.url("/drip"), max_bytes=MB, timeout=0.5, total_timeout=0.6)
    assert time.monotonic() - start < 1.5


def test_connection_refused_is_transient(client: httpx.Client) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientFetchError, match="connection failed"):
        fetch_source(client, f"http://127.0.0.1:{port}/feed", max_bytes=10)


# --------------------------------------------------------------------------- size limits


def test_oversize_body_with_content_length(server: ScriptedServer, client: httpx.Client) -> None:
    server.script("/big", Reply(200, {"Content-Type": "text/html"}, b"z" * 50_000))
    with pytest.raises(FetchError) as info:
        fetch_source(client, server.url("/big"), max_bytes=1000)
    assert not is_transient(info.value)
    assert str(info.value).startswith(f"{server.url('/big')}: response larger than 1000 bytes")


def test_oversize_chunked_body_is_abandoned_early(server: ScriptedServer, client: httpx.Client) -> None:
    body = b"w" * 50_000
    server.script("/big", Reply(200, {"Content-Type": "text/plain"}, body, chunked=True, chunk_size=1000, chunk_delay=0.01))
    with pytest.raises(FetchError, match="response larger than 1000 bytes$"):
        fetch_source(client, server.url("/big"), max_bytes=1000)
    server.wait_done()
    (seen,) = server.requests_to("/big")
    assert seen.aborted and seen.bytes_sent < len(body) // 2  # the client hung up, it did not drain


def test_body_exactly_at_the_limit_is_accepted(server: ScriptedServer, client: httpx.Client) -> None:
    server.script("/edge", Reply(200, {}, b"e" * 1000, chunked=True, chunk_size=300))
    assert len(fetch_source(client, server.url("/edge"), max_bytes=1000).content) == 1000


def test_gzip_bomb_is_counted_after_decompression(server: ScriptedServer, client: httpx.Client) -> None:
    bomb = gzip.compress(b"\0" * (4 * MB))
    assert len(bomb) < 10_000
    server.script("/bomb", Reply(200, {"Content-Encoding": "gzip"}, bomb))
    with pytest.raises(FetchError, match="larger than 10000 bytes"):
        fetch_source(client, server.url("/bomb"), max_bytes=10_000)


# --------------------------------------------------------------------------- redirects and schemes


def test_redirects_within_the_limit_are_followed(server: ScriptedServer, client: httpx.Client) -> None:
    server.script("/old", Reply(301, {"Location": "/older"}))
    server.script("/older", Reply(302, {"Location": server.url("/feed.xml")}))
    server.script("/feed.xml", Reply(200, {"Content-Type": "application/rss+xml"}, b"<rss/>"))
    result = fetch_source(client, server.url("/old"), validators=Validators(etag='"e"'), max_bytes=100)
    assert result.url == server.url("/feed.xml") and result.content == b"<rss/>"
    assert server.requests_to("/feed.xml")[0].headers["User-Agent"] == paperdigest.USER_AGENT


def test_redirect_chain_longer_than_max_is_refused(server: ScriptedServer) -> None:
    for i in range(8):
        server.script(f"/r{i}", Reply(302, {"Location": f"/r{i + 1}"}))
    with make_client(timeout=5.0, max_redirects=5) as client:
        with pytest.raises(FetchError, match="more than 5 redirects") as info:
            fetch_source(client, server.url("/r0"), max_bytes=100)
    assert not is_transient(info.value)
    assert [r.path for r in server.requests] == [f"/r{i}" for i in range(6)]  # the 6th hop is never taken


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://127.0.0.1/pub/feed.xml", "javascript:alert(1)", "gopher://127.0.0.1/1"]
)
def test_redirect_to_a_non_http_scheme_is_refused(server: ScriptedServer, client: httpx.Client, location: str) -> None:
    server.script("/evil", Reply(302, {"Location": location}))
    sent = _sent_requests(client)
    with pytest.raises(FetchError, match=r"(redirect to \S+ with scheme|invalid redirect location)") as info:
        fetch_source(client, server.url("/evil"), max_bytes=100)
    assert not is_transient(info.value)
    assert [str(r.url) for r in sent] == [server.url("/evil")]


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml", "javascript:alert(1)", "data:text/plain,hi", "/relative/path", "http:///no-host"]
)
def test_non_http_urls_are_refused_without_a_request(client: httpx.Client, url: str) -> None:
    sent = _sent_requests(client)
    with pytest.raises(FetchError) as info:
        fetch_source(client, url, max_bytes=100)
    assert sent == [] and not is_transient(info.value)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://alice:hunter22@example.org/feed?limit=5", "https://example.org/feed?limit=5"),
        ("https://example.org/api?token=abc&date=2025-03-19", "https://example.org/api?token=***&date=2025-03-19"),
        ("https://example.org/a?API_KEY=k1&client_secret=s2&sig=x#frag", "https://example.org/a?API_KEY=***&client_secret=***&sig=***"),
        ("https://example.org/a?access%5Ftoken=t&flag", "https://example.org/a?access%5Ftoken=***&flag"),
        ("http://example.org/plain", "http://example.org/plain"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_error_messages_redact_credentials_and_tokens(server: ScriptedServer, client: httpx.Client) -> None:
    server.script("/private", Reply(403))
    url = f"http://reader:pw-s3cret@127.0.0.1:{server.port}/private?token=tok-9f8e7d&limit=5"
    with pytest.raises(FetchError) as info:
        fetch_source(client, url, params={"api_key": "key-123456"}, max_bytes=10)
    message = str(info.value)
    assert message == f"http://127.0.0.1:{server.port}/private?token=***&limit=5&api_key=***: HTTP 403 Forbidden"
    (seen,) = server.requests_to("/private")
    assert seen.query == "token=tok-9f8e7d&limit=5&api_key=key-123456"  # the server still got the real values


def test_transport_error_messages_are_redacted_too(client: httpx.Client) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientFetchError) as info:
        fetch_source(client, f"http://u:pw-s3cret@127.0.0.1:{port}/x?secret=zz-top-99", max_bytes=10)
    message = str(info.value)
    assert "pw-s3cret" not in message and "zz-top-99" not in message and "u:" not in message
    assert message.startswith(f"http://127.0.0.1:{port}/x?secret=***: ")


# --------------------------------------------------------------------------- retry policy (pure)


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("86400") == MAX_RETRY_AFTER
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
    base = datetime(2025, 3, 19, 12, 0, tzinfo=timezone.utc)
    date = format_datetime(base, usegmt=True)
    assert parse_retry_after(format_datetime(base + timedelta(seconds=90), usegmt=True), date) == 90.0
    assert parse_retry_after(format_datetime(base - timedelta(seconds=90), usegmt=True), date) == 0.0
    assert parse_retry_after(format_datetime(base + timedelta(hours=2), usegmt=True), date) == MAX_RETRY_AFTER


def test_retry_after_http_date_from_the_server(server: ScriptedServer, client: httpx.Client) -> None:
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)  # the server's clock, not ours
    headers = {"Date": format_datetime(now, usegmt=True), "Retry-After": format_datetime(now + timedelta(seconds=45), usegmt=True)}
    server.script("/busy", Reply(503, headers))
    with pytest.raises(TransientFetchError, match="retry after 45 s") as info:
        fetch_source(client, server.url("/busy"), max_bytes=10)
    assert info.value.retry_after == 45.0


def test_retry_delay_and_is_transient() -> None:
    t = TransientFetchError("u: HTTP 500")
    assert [retry_delay(t, i, backoff=1.5) for i in range(3)] == [1.5, 3.0, 6.0]
    assert retry_delay(TransientFetchError("u: HTTP 429", retry_after=10), 0) == 10.0
    assert retry_delay(TransientFetchError("u: HTTP 429", retry_after=1), 3) == 8.0
    assert retry_delay(t, 20) == MAX_RETRY_AFTER
    for permanent in (FetchError("u: HTTP 404"), ValueError("x"), KeyboardInterrupt()):
        assert retry_delay(permanent, 0) is None and not is_transient(permanent)
    assert is_transient(httpx.ReadTimeout("slow")) and is_transient(httpx.ConnectError("refused"))
    assert not is_transient(httpx.UnsupportedProtocol("file"))
