"""A real HTTP server on loopback for the tests: serves a directory, honours Range requests, and
can be told to fail or cut off the next requests, as flaky mirrors do."""

from __future__ import annotations

import email.utils
import http.server
import threading
from pathlib import Path


class FileServer:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.fail_next = 0  # answer this many requests with 503
        self.truncate_next = 0  # send only half of the body for this many requests
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                if server.fail_next:
                    server.fail_next -= 1
                    self.send_error(503, "try again")
                    return
                path = server.root / self.path.lstrip("/").split("?")[0]
                if path.is_dir():
                    path = path / "index.html"
                if not path.resolve().is_relative_to(server.root.resolve()) or not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                modified = email.utils.formatdate(path.stat().st_mtime, usegmt=True)
                start = 0
                wanted = self.headers.get("Range")
                # A resumed download is answered in part only if the file is still the same one.
                same = self.headers.get("If-Range") in (None, modified)
                if wanted and wanted.startswith("bytes=") and same:
                    start = int(wanted[6:].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Last-Modified", modified)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.truncate_next:
                    server.truncate_next -= 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
