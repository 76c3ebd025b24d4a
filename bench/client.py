"""A small keep-alive HTTP client speaking to the product as an IDM client would.

http.client, not a third-party library: the harness streams a multipart body
from disk with its Content-Length computed up front, so a 165 MB file is never
read into memory.

Two ways to authenticate, both the product's own: IDM's X-OpenIDM-Username/
-Password headers (the upload, and one informational read figure) and a DRF
``Authorization: Bearer`` token (polling and the read medians). Header auth
checks the password hash on every request (PBKDF2, hundreds of ms of CPU), so
polling with it every 100 ms would keep a core busy in the web server and slow
the worker it is timing; the token costs one indexed lookup.
"""

import http.client
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

AUTH = {
    "X-OpenIDM-Username": "openidm-admin",
    "X-OpenIDM-Password": "openidm-admin",
}
CHUNK = 1 << 20


class HttpError(Exception):
    """A request that did not answer as expected."""


class Client:
    """One persistent connection; reconnects once if the server closed it."""

    def __init__(self, host: str, port: int, token: str = "", timeout: float = 60.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.token = token
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def close(self) -> None:
        self.conn.close()

    def get(
        self, path: str, header_auth: bool = False, fresh: bool = False
    ) -> tuple[int, Any]:
        """GET as the admin; (status, decoded JSON or raw bytes).

        With the token when there is one, else (or if asked) IDM's headers;
        ``fresh`` closes the kept-alive connection first (a new one per request).
        """
        if header_auth or not self.token:
            headers = AUTH
        else:
            headers = {"Authorization": f"Bearer {self.token}"}
        if fresh:
            self.conn.close()
        for attempt in (1, 2):
            try:
                self.conn.request("GET", path, headers=headers)
                response = self.conn.getresponse()
                body = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                self.conn.close()  # the next request opens a new connection
                if attempt == 2:
                    raise
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, body

    def get_json(self, path: str) -> dict:
        """GET that must answer 200 with a JSON object."""
        status, body = self.get(path)
        if status != 200 or not isinstance(body, dict):
            raise HttpError(f"GET {path}: {status} {str(body)[:300]}")
        return body

    def upload(self, path: Path, collection: str = "managed/user") -> tuple[str, float]:
        """POST one CSV as the ``upload`` part; (import id, seconds to answer)."""
        boundary = uuid.uuid4().hex
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="upload"; filename="users.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        length = len(head) + os.path.getsize(path) + len(tail)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        started = time.perf_counter()
        try:
            conn.putrequest("POST", f"/upload/csv/{collection}?uniqueProperty=userName")
            for name, value in AUTH.items():
                conn.putheader(name, value)
            conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
            conn.putheader("Content-Length", str(length))
            conn.endheaders()
            conn.send(head)
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    conn.send(chunk)
            conn.send(tail)
            response = conn.getresponse()
            body = response.read()
            seconds = time.perf_counter() - started
        finally:
            conn.close()
        if response.status != 200:
            raise HttpError(f"upload: {response.status} {body[:300]!r}")
        (import_id,) = json.loads(body)["importUUIDs"]
        return import_id, seconds
