"""A local stand-in for the Hugging Face Hub's file endpoint, for the real `huggingface_hub` client:
HEAD and GET of `/{repo}/resolve/{revision}/{filename}` with the headers the client reads
(X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size, Content-Length) and byte ranges (resume).
`truncate_next` makes the next GET of a file send half its bytes and drop the connection."""
from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeHub:
    def __init__(self, repo: str, revision: str, files: dict[str, bytes], lfs: tuple[str, ...] = ()):
        self.repo, self.revision, self.files, self.lfs = repo, revision, dict(files), set(lfs)
        self.log: list[tuple[str, str, str | None]] = []     # (method, filename, Range header)
        self.truncate_next: set[str] = set()
        self.fail = False                                       # answer 404 to everything
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):                       # quiet
                pass

            def do_HEAD(self):
                hub._answer(self, body=False)

            def do_GET(self):
                hub._answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def gets(self, filename: str) -> list[str | None]:
        """The Range headers of the GETs of `filename`, in order."""
        return [r for m, f, r in self.log if m == "GET" and f == filename]

    def _answer(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        prefix = f"/{self.repo}/resolve/{self.revision}/"
        name = h.path[len(prefix):] if h.path.startswith(prefix) else None
        self.log.append((h.command, name or h.path, h.headers.get("Range")))
        if self.fail or name not in self.files:
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data = self.files[name]
        start = 0
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng[6:].rstrip("-").isdigit():
            start = int(rng[6:].rstrip("-"))
        h.send_response(206 if start else 200)
        h.send_header("X-Repo-Commit", self.revision)
        if name in self.lfs:
            h.send_header("X-Linked-Etag", '"' + hashlib.sha256(data).hexdigest() + '"')
            h.send_header("X-Linked-Size", str(len(data)))
        h.send_header("ETag", '"' + hashlib.sha1(data).hexdigest() + '"')
        h.send_header("Accept-Ranges", "bytes")
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.send_header("Content-Length", str(len(data) - start))
        h.end_headers()
        if not body:
            return
        part = data[start:]
        if name in self.truncate_next:
            self.truncate_next.discard(name)
            h.wfile.write(part[:len(part) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        for i in range(0, len(part), 1 << 16):
            h.wfile.write(part[i:i + (1 << 16)])
