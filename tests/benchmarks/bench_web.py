"""Web: the feed endpoint and the one-click unsubscribe endpoint under concurrent load.

The server is the real ``paperdigest web`` console script (one uvicorn process) on 127.0.0.1,
over a SQLite store holding a profile whose feed has 100 entries and 2,000 active web
subscribers. The client is this process: a bare asyncio HTTP/1.1 client over 16 kept-alive connections (16
requests in flight), a bounded number of requests per phase (each phase also stops after 60 s). Four phases, one after the
other: a static file of the same server (``/static/web.css``, Starlette's StaticFiles), the RSS
feed (``/feeds/bench.xml``, full 200 answers, no conditional GET), the static file again, and
2,000 RFC 8058 one-click POSTs (each subscriber once: a real unsubscribe, one write
transaction each). Each endpoint is shown beside the static phase measured just before it:
requests/s and p99 latency, and their ratios.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

from tests.benchmarks.common import ROOT, n, progress
from tests.benchmarks.synthetic import synthetic_papers

from paperdigest.config import load_config
from paperdigest.models import Listing, Match, RankedItem
from paperdigest.pipeline.subscribers import next_send_time
from paperdigest.store import ReaderSettings, Store
from paperdigest.delivery.signing import Signer

SUBSCRIBERS = 2_000
REQUESTS = 2_000
CONCURRENCY = 16
PHASE_LIMIT_S = 60.0
NOW = datetime.now(timezone.utc).replace(microsecond=0)  # the server's clock: the feed window is the last 30 days
SECRET = "bench-secret-" + "k" * 40
PAPERDIGEST = Path(sys.executable).parent / "paperdigest"


def prepare(tmp: Path, port: int) -> Path:
    """A config with [web], a 100-entry feed and 2,000 active subscribers."""
    path = tmp / "paperdigest.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp / "store.db"}"\n[output]\ndir = "{tmp / "out"}"\n'
                    f'[web]\nbase_url = "http://127.0.0.1:{port}/"\n'
                    '[[profile]]\nname = "bench"\ntitle = "Benchmark"\nkeywords = { "model" = 1 }\n')
    config = load_config(path)
    papers = synthetic_papers(100, seed=7)
    with Store(config.store_url) as store:
        result = store.ingest(Listing(papers), source="bench", hash_="bench", captured=NOW, now=NOW)
        items = [(pid, RankedItem(p, 1.0, (Match("model", "abstract", 1.0),))) for pid, p in zip(result.new_ids, papers)]
        store.create_digest(profile="bench", profile_title="Benchmark", expected_cursor=None,
                            new_cursor=max(result.new_ids), day=NOW.date(), now=NOW, new_papers=100,
                            matched=100, items=items, recipients=[])
        settings = ReaderSettings(profiles=("bench",), timezone="UTC", send_hour=7)
        for i in range(SUBSCRIBERS):
            sid = store.request_subscription(f"reader{i:04d}@example.org", settings, nonce="n", now=NOW)
            store.confirm_subscription(sid, "n", now=NOW, next_send=lambda tz, h: next_send_time(tz, h, NOW))
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raw_request(method: str, path: str, body: bytes | None, port: int) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench\r\n"
    if body is not None:
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode("ascii") + (body or b"")


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """One request on a kept-alive connection; the answer's status (its body read and dropped)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def load(port: int, requests: list[tuple[str, str, bytes | None]]) -> tuple[float, list[float], int]:
    """Send ``requests`` (method, path, body) over CONCURRENCY kept-alive connections: seconds,
    latencies, failures. A bare asyncio HTTP/1.1 client, so the client costs little next to the
    server it measures (httpx's async client would be the bottleneck here)."""
    latencies: list[float] = []
    failures = 0
    queue = iter([raw_request(m, p, b, port) for m, p, b in requests])
    deadline = time.perf_counter() + PHASE_LIMIT_S
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(CONCURRENCY)]
    for reader, writer in conns:  # warm up each connection with the first request's kind
        await exchange(reader, writer, raw_request("GET", "/static/web.css", None, port))

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal failures
        for request in queue:
            if time.perf_counter() > deadline:
                return
            start = time.perf_counter()
            status = await exchange(reader, writer, request)
            latencies.append(time.perf_counter() - start)
            failures += status != 200

    start = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in conns))
    seconds = time.perf_counter() - start
    for _, writer in conns:
        writer.close()
    return seconds, latencies, failures


def phase(port: int, name: str, requests: list[tuple[str, str, bytes | None]]) -> tuple[float, float]:
    progress(f"web: {name}: {n(len(requests))} requests, {CONCURRENCY} in flight")
    seconds, latencies, failures = asyncio.run(load(port, requests))
    if failures or len(latencies) < len(requests):
        raise SystemExit(f"web: {name}: {failures} failed, {len(latencies)} of {len(requests)} answered in time")
    latencies.sort()
    return len(latencies) / seconds, latencies[int(0.99 * (len(latencies) - 1))] * 1000


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = None
    try:
        progress(f"web: preparing a store with a 100-entry feed and {n(SUBSCRIBERS)} subscribers")
        config = prepare(tmp, port)
        env = {**os.environ, "PAPERDIGEST_SECRET": SECRET}
        proc = subprocess.Popen([str(PAPERDIGEST), "web", "--config", str(config), "--port", str(port)], cwd=ROOT,
                                env=env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/static/web.css", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("web: paperdigest web did not start") from None
                time.sleep(0.1)
        static = [("GET", "/static/web.css", None)] * REQUESTS
        feed_size = len(httpx.get(base + "/feeds/bench.xml").content)
        css_size = len(httpx.get(base + "/static/web.css").content)
        s1_rps, s1_p99 = phase(port, "static file", static)
        f_rps, f_p99 = phase(port, "feed", [("GET", "/feeds/bench.xml", None)] * REQUESTS)
        s2_rps, s2_p99 = phase(port, "static file again", static)
        signer = Signer(SECRET)
        unsubscribe = [("POST", f"/unsubscribe/{signer.sign('unsubscribe', sid)}", b"List-Unsubscribe=One-Click")
                       for sid in range(1, SUBSCRIBERS + 1)]
        u_rps, u_p99 = phase(port, "one-click unsubscribe", unsubscribe)
        with Store(load_config(config).store_url) as store:
            left = len(store.active_subscribers())
        if left:
            raise SystemExit(f"web: {left} subscribers still active after unsubscribing all")
        print(f"web static: GET /static/web.css ({css_size / 1024:.1f} KB), {CONCURRENCY} in flight, "
              f"{n(REQUESTS)} requests: {n(s1_rps)} req/s, p99 {s1_p99:.1f} ms (again later: {n(s2_rps)} req/s, "
              f"p99 {s2_p99:.1f} ms)", flush=True)
        print(f"web feed: GET /feeds/bench.xml (100 entries, {feed_size / 1024:.0f} KB, rendered from the store, "
              f"cached until it changes): {n(f_rps)} req/s, p99 {f_p99:.1f} ms; against the static file: "
              f"throughput {f_rps / s1_rps:.2f}, p99 {f_p99 / s1_p99:.2f}", flush=True)
        print(f"web unsubscribe: {n(SUBSCRIBERS)} one-click POSTs (RFC 8058), each a verified token and a write "
              f"transaction: {n(u_rps)} req/s, p99 {u_p99:.1f} ms; against the static file: throughput "
              f"{u_rps / s2_rps:.2f}, p99 {u_p99 / s2_p99:.2f}", flush=True)
        return 0
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
