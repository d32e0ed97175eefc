"""What every HTTP emulator shares: a threaded server on loopback, started and stopped with it.

A subclass sets `handler_class` (a BaseHTTPRequestHandler that reaches the
emulator as `self.server.emulator`) and `thread_name`, and has `host` and `port`
attributes (port 0 picks a free one; after start() it holds the real one).
"""

import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class EmulatorServer:
    handler_class: type[BaseHTTPRequestHandler]
    server_class: type[LoopbackServer] = LoopbackServer
    thread_name = "emulator"
    host = "127.0.0.1"
    port = 0
    _server: LoopbackServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        self._server = self.server_class((self.host, self.port), self.handler_class)
        self._server.emulator = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for_stop() -> None:
    """Block until SIGTERM (honcho stopping the demo) or Ctrl-C: the run_* scripts' main loop."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
