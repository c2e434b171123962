"""The HTTP side of `riskchart serve`: the output folder, read-only.

Only GET and HEAD; only regular files inside the output folder, reached
without `..`, hidden names or a symbolic link that leads out; the index
page gets the live script added; `/_riskchart/…` holds the chart pages,
the script, its style sheet, the event stream and the SVG of a chart just
saved, drawn before the build (preview.py), from memory.  Bound to
loopback, requests naming another host are refused (a web page cannot
reach the charts by pointing its own name at 127.0.0.1).
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..draw import templatefiles
from ..errors import EnvironmentProblem
from ..publish.names import INDEX
from .session import PAGE_PREFIX, PREVIEW_PREFIX, Live, file_version

INTERNAL = "/_riskchart/"
CHART_ROUTE = PAGE_PREFIX[len(INTERNAL):]  # "chart/"
PREVIEW_ROUTE = PREVIEW_PREFIX[len(INTERNAL):]  # "preview/"
ASSETS = ("serve.js", "serve.css")  # in templates/
HEARTBEAT_SECONDS = 10.0
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
CONTENT_TYPES = {
    ".svg": "image/svg+xml", ".pdf": "application/pdf", ".png": "image/png", ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8", ".dot": "text/plain; charset=utf-8", ".json": "application/json",
    ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
}
# A drawing opened by itself runs no script, whatever is in the file.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'")


class PortInUse(EnvironmentProblem):
    pass


class Server(ThreadingHTTPServer):
    daemon_threads = True  # event streams never keep the process alive
    allow_reuse_port = False  # a second server on the same port must fail, not share it

    def __init__(self, address: tuple[str, int], out: Path, live: Live, loopback_only: bool) -> None:
        self.out_root = out.resolve()
        self.live = live
        self.loopback_only = loopback_only
        super().__init__(address, Handler)


class Server6(Server):
    address_family = socket.AF_INET6


def bind(host: str, port: int, out: Path, live: Live) -> Server:
    kind = Server6 if ":" in host else Server
    try:
        return kind((host, port), out, live, loopback_only=host in LOOPBACK_NAMES)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(f"端口 {port} 已被占用（也许另一个 riskchart serve 正在运行）：请用 --port 换一个端口，"
                            f"如 --port {port + 1 if 0 < port < 65535 else 8001}") from None
        raise EnvironmentProblem(f"无法在 {host}:{port} 上提供服务：{error.strerror or error}") from None


def url_of(server: Server) -> str:
    host, port = str(server.server_address[0]), server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def output_file(out_root: Path, url_path: str) -> Path | None:
    """The regular file inside `out_root` that a URL path names, or None:
    no `..`, `.` or empty part, no hidden name (the manifest, the lock, the
    cache), no backslash or NUL, decoded once, and the real path (symbolic
    links followed) still inside the folder."""
    name = unquote(url_path, errors="surrogateescape")
    if "\0" in name or "\\" in name or not name.startswith("/"):
        return None
    parts = name[1:].split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    try:
        real = out_root.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return real if real.is_relative_to(out_root) and real.is_file() else None


class Handler(BaseHTTPRequestHandler):
    server: Server
    server_version = "riskchart-serve"

    def log_message(self, format: str, *args: Any) -> None:  # the terminal shows builds, not requests
        pass

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _read_only(self) -> None:
        self._plain(HTTPStatus.METHOD_NOT_ALLOWED, "只读：只接受 GET 和 HEAD", {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _read_only

    def _answer(self, body: bool) -> None:
        if not self._host_allowed():
            self._plain(HTTPStatus.FORBIDDEN, "拒绝：请求的主机名不是本机", body=body)
            return
        path = urlsplit(self.path).path
        if path in ("/", "/" + INDEX):
            self._index(body)
        elif path.startswith(INTERNAL):
            self._internal(path[len(INTERNAL):], body)
        else:
            found = output_file(self.server.out_root, path)
            if found is None:
                self._plain(HTTPStatus.NOT_FOUND, "没有这个文件", body=body)
            else:
                self._file(found, body)

    def _host_allowed(self) -> bool:
        host = self.headers.get("Host")
        if not self.server.loopback_only or host is None:
            return True
        name = host[1:host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
        return name.lower() in LOOPBACK_NAMES

    def _internal(self, route: str, body: bool) -> None:
        """`/_riskchart/<route>`: the event stream, the script and style, a chart page."""
        from . import pages

        if route == "events":
            self._events(body)
        elif route in ASSETS:
            self._send(HTTPStatus.OK, (templatefiles.template_folder() / route).read_bytes(),
                       CONTENT_TYPES[Path(route).suffix], body=body)
        elif route.startswith(CHART_ROUTE):
            key = unquote(route[len(CHART_ROUTE):], errors="surrogateescape")
            page = pages.chart_page(self.server.live, key)
            status = HTTPStatus.OK if page.found else HTTPStatus.NOT_FOUND
            self._send(status, page.html.encode("utf-8", "surrogateescape"), CONTENT_TYPES[".html"],
                       {"Content-Security-Policy": PAGE_POLICY}, body)
        elif route.startswith(PREVIEW_ROUTE):
            drawing = self.server.live.preview(unquote(route[len(PREVIEW_ROUTE):], errors="surrogateescape"))
            if drawing is None:
                self._plain(HTTPStatus.NOT_FOUND, "没有这张图的预览", body=body)
            else:
                self._send(HTTPStatus.OK, drawing, CONTENT_TYPES[".svg"], {"Content-Security-Policy": SVG_POLICY}, body)
        else:
            self._plain(HTTPStatus.NOT_FOUND, "没有这个页面", body=body)

    def _index(self, body: bool) -> None:
        from . import pages

        found = output_file(self.server.out_root, "/" + INDEX)
        data, version = b"", ""
        if found:
            with found.open("rb") as stream:  # the version of exactly these bytes: the page reloads once per change
                data, version = stream.read(), file_version(os.fstat(stream.fileno()))
        page = pages.live_index(data, version, self.server.live)
        self._send(HTTPStatus.OK if found else HTTPStatus.NOT_FOUND, page, CONTENT_TYPES[".html"], body=body)

    def _file(self, path: Path, body: bool) -> None:
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            self._plain(HTTPStatus.NOT_FOUND, "没有这个文件", body=body)
            return
        with os.fdopen(descriptor, "rb") as stream:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode):
                self._plain(HTTPStatus.NOT_FOUND, "没有这个文件", body=body)
                return
            kind = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
            extra = {"Content-Security-Policy": SVG_POLICY} if path.suffix.lower() == ".svg" else {}
            self._head(HTTPStatus.OK, kind, info.st_size, extra)
            if body:
                while chunk := stream.read(1 << 16):
                    self.wfile.write(chunk)

    def _events(self, body: bool) -> None:
        """Server-sent events: the state now, then after every change; a
        comment line now and then, so a closed page is noticed."""
        live = self.server.live
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not body:
            return
        seen = -1
        try:
            self.wfile.write(b"retry: 1000\n\n")
            while not live.stopping:
                message = live.next_message(seen, HEARTBEAT_SECONDS)
                if message is None:
                    self.wfile.write(b": \n\n")
                else:
                    seen, data = message
                    self.wfile.write(b"data: " + data + b"\n\n")
                self.wfile.flush()
        except OSError:  # the page was closed or reloaded
            return

    def _head(self, status: HTTPStatus, kind: str, length: int, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, status: HTTPStatus, data: bytes, kind: str, extra: dict[str, str] | None = None,
              body: bool = True) -> None:
        self._head(status, kind, len(data), extra)
        if body:
            self.wfile.write(data)

    def _plain(self, status: HTTPStatus, message: str, extra: dict[str, str] | None = None, body: bool = True) -> None:
        self._send(status, (message + "\n").encode("utf-8"), "text/plain; charset=utf-8", extra, body)
