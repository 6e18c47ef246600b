"""A real HTTP server for tests: stdlib ``ThreadingHTTPServer`` on 127.0.0.1, scripted per path.

    with ScriptedServer() as srv:
        srv.script("/feed", Reply(200, {"Content-Type": "application/json"}, b"{}"))
        url = srv.url("/feed")
        ...
        srv.requests_to("/feed")[0].headers["User-Agent"]

Each path holds a queue of replies; each request takes the next one and the last one stays
(so "500 then 200" is ``script(path, Reply(500), Reply(200, ...))``). A reply may be a callable
taking the :class:`Seen` request, for servers that look at request headers. Unscripted paths
get 404. Every request is recorded with its headers, how many body bytes were written to it
and whether the client hung up before the end.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit


@dataclass
class Reply:
    """One scripted response.

    ``delay``: seconds to wait before the status line (a server that never answers);
    ``chunked``: send with ``Transfer-Encoding: chunked`` and no Content-Length;
    ``chunk_size``/``chunk_delay``: write the body in pieces with a pause between them;
    ``stall_after``: after that many body bytes, stop writing for ``stall`` seconds.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    chunked: bool = False
    chunk_size: int = 16 * 1024
    chunk_delay: float = 0.0
    stall_after: int | None = None
    stall: float = 0.0


@dataclass
class Seen:
    """A request as the server saw it, plus what happened to its response."""

    method: str
    path: str
    query: str
    headers: Message
    bytes_sent: int = 0
    aborted: bool = False
    done: threading.Event = field(default_factory=threading.Event)


Responder = Reply | Callable[[Seen], Reply]



class _QuietServer(ThreadingHTTPServer):
    """A client hanging up mid-response is what several tests do on purpose: no traceback."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass

class ScriptedServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Responder]] = {}
        self._stop = threading.Event()
        self.requests: list[Seen] = []
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    # -- lifecycle
    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()  # wake any handler sleeping in a delay or stall
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # -- scripting
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def script(self, path: str, *replies: Responder) -> None:
        with self._lock:
            self._scripts[path] = deque(replies)

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def wait_done(self, timeout: float = 5.0) -> None:
        """Wait until every recorded request's handler has finished writing."""
        with self._lock:
            pending = list(self.requests)
        for seen in pending:
            seen.done.wait(timeout)

    # -- used by the handler
    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            queue = self._scripts.get(seen.path)
            if not queue:
                responder: Responder = Reply(404, {"Content-Type": "text/plain"}, b"not scripted")
            elif len(queue) > 1:
                responder = queue.popleft()
            else:
                responder = queue[0]
        return responder(seen) if callable(responder) else responder

    def _pause(self, seconds: float) -> bool:
        """Sleep unless the server is closing; True if it is."""
        return self._stop.wait(seconds) if seconds > 0 else self._stop.is_set()


def _pieces(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), max(1, size)):
        yield body[start : start + max(1, size)]


def _handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            seen = Seen(self.command, parts.path, parts.query, self.headers)
            try:
                self._reply(seen, server._next(seen))
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
                seen.aborted = True
                self.close_connection = True
            finally:
                seen.done.set()

        do_HEAD = do_GET

        def _reply(self, seen: Seen, reply: Reply) -> None:
            if server._pause(reply.delay):
                self.close_connection = True
                return
            names = {k.lower() for k in reply.headers}
            self.send_response_only(reply.status)
            if "date" not in names:  # a scripted Date replaces the real one
                self.send_header("Date", self.date_time_string())
            for name, value in reply.headers.items():
                self.send_header(name, value)
            bodyless = reply.status == 304 or reply.status < 200 or self.command == "HEAD"
            if reply.chunked and not bodyless:
                self.send_header("Transfer-Encoding", "chunked")
            elif "content-length" not in names:
                self.send_header("Content-Length", "0" if bodyless else str(len(reply.body)))
            self.end_headers()
            self.wfile.flush()
            if bodyless:
                return
            stall_at = reply.stall_after
            for piece in _pieces(reply.body, reply.chunk_size):
                if stall_at is not None and seen.bytes_sent >= stall_at:
                    stall_at = None
                    if server._pause(reply.stall):
                        self.close_connection = True
                        return
                frame = b"%x\r\n%s\r\n" % (len(piece), piece) if reply.chunked else piece
                self.wfile.write(frame)
                self.wfile.flush()
                seen.bytes_sent += len(piece)
                if server._pause(reply.chunk_delay):
                    self.close_connection = True
                    return
            if reply.chunked:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

    return Handler
