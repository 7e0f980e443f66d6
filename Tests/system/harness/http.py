"""HTTP clients for the tests: the daemon's API over its Unix socket, and plain or verified-HTTPS TCP."""
import http.client
import json
import socket
import ssl
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("kiosk", timeout=timeout)
        self.path = str(path)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def _request(conn, method, path, body, headers):
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    elif isinstance(body, str):
        body = body.encode()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, dict(r.getheaders()), r.read())
    finally:
        conn.close()


def api(sock, path, method=None, body=None, headers=None, timeout=30):
    """A request to the daemon's API over the Unix socket `sock`; raises OSError when it does not answer."""
    return _request(_UnixConnection(sock, timeout), method or ("POST" if body is not None else "GET"), path, body, headers)


def http_get(url, method=None, body=None, headers=None, timeout=30, cafile=None):
    """A request over TCP (http://, or https:// verified against cafile)."""
    scheme, rest = url.split("://", 1)
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    if scheme == "https":
        ctx = ssl.create_default_context(cafile=str(cafile) if cafile else None)
        conn = http.client.HTTPSConnection(host, int(port or 443), timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, int(port or 80), timeout=timeout)
    return _request(conn, method or ("POST" if body is not None else "GET"), "/" + path, body, headers)
