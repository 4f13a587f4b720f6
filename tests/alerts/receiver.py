"""A real local HTTP server that records webhook deliveries and answers with the codes it is given."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, codes: list[int]) -> None:
        self.codes = codes  # answer i gets codes[i] (the last one repeats)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.url = ""


@contextmanager
def receiver(codes: list[int] | None = None) -> Iterator[Receiver]:
    rec = Receiver(codes or [200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rec.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            code = rec.codes[min(len(rec.requests), len(rec.codes)) - 1]
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"ok" if code < 300 else b"try later")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
