"""An SMTP server that accepts everything, run as its own process for the delivery benchmark.

In the client's process the server would share its GIL and halve what is measured. Prints
its port once listening; when its stdin closes, prints "<messages> <bytes>" and exits.

    python -m tests.benchmarks.smtp_sink
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


class Sink:
    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        self.bytes += len(envelope.content)
        return "250 2.0.0 accepted"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def main() -> None:
    sink = Sink()
    controller = Controller(sink, hostname=HOST, port=free_port())
    controller.start()
    try:
        print(controller.port, flush=True)
        sys.stdin.read()
    finally:
        controller.stop()
    print(sink.messages, sink.bytes, flush=True)


if __name__ == "__main__":
    main()
