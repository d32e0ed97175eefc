"""A tiny loopback HTTP server for the leadops.http tests.

Routes (GET and POST):
  /ok                  200, body is the Host header the client sent
  /status/<n>          that status
  /flaky               503 for the first two hits, then 200
  /redirect?to=<url>   302 to <url>
  /loop                302 to itself
  /big?n=<bytes>       200 with n bytes and no Content-Length (read until close)
  /declared-big        Content-Length of 1 GB, then a few bytes and close
  /slow                sleeps 1.5 s before answering
"""

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one response per connection, bodies end at close

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        path = parts.path
        with self.server.lock:
            self.server.hits[path] += 1
            hits = self.server.hits[path]
        if path == "/ok":
            self._reply(200, self.headers.get("Host", "").encode())
        elif path.startswith("/status/"):
            self._reply(int(path.rsplit("/", 1)[1]), b"status")
        elif path == "/flaky":
            self._reply(503 if hits <= 2 else 200, b"flaky")
        elif path in ("/redirect", "/loop"):
            self.send_response(302)
            self.send_header("Location", query.get("to", "/loop"))
            self.end_headers()
        elif path == "/big":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * int(query["n"]))
        elif path == "/declared-big":
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
            self.wfile.write(b"x" * 10)
        elif path == "/slow":
            time.sleep(1.5)
            self._reply(200, b"late")
        else:
            self._reply(404, b"no such route")

    do_POST = do_GET

    def _reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class Peer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # /slow must not hold up teardown

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits = Counter()
        self.lock = threading.Lock()
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def handle_error(self, request, client_address):
        pass  # clients that hang up early (size cap, timeouts) are the point of some tests

    def __enter__(self):
        threading.Thread(target=self.serve_forever, args=(0.01,), daemon=True).start()  # quick shutdown
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()
