"""A real (tiny) OpenAI-compatible HTTP server for tests and benchmarks.

It listens on 127.0.0.1 on a free port, in a background thread, using only the standard library,
so fault tests exercise the real openai/httpx stack: real sockets, real timeouts, real status codes.

    def responder(body: dict) -> tuple[int, dict | str, float]:
        return 200, chat_completion('{"ok": true}'), 0.0     # status, JSON body or raw text, delay s

    with FakeOpenAIServer(responder, models=["m"]) as server:
        endpoint = ModelEndpoint(base_url=server.base_url, model="m")

`body` is the parsed JSON of a POST /v1/chat/completions. GET /v1/models lists `models`.
`always(...)` and `sequence(...)` build common responders (a fixed answer; answers in order, the
last repeated). A delay longer than the client's timeout imitates a hung server; the sleep is cut
short when the server closes, so tests never wait for it (`NEVER` is a delay that outlasts any
test). `models_delay` does the same to GET /v1/models (a health check against a silent server).
A `RawBody` payload is sent byte for byte with its own Content-Type (a proxy's HTML page, JSON cut
off mid-body, 10 MB of padding). `closed_port_url()` gives a URL nobody listens on.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], tuple[int, "dict[str, Any] | str | RawBody", float]]

#: A delay no test outlives: the server accepts the request and never answers.
NEVER = 10_000.0


@dataclass(frozen=True)
class RawBody:
    """A response body sent exactly as given (no JSON encoding), with this Content-Type."""

    data: bytes
    content_type: str = "application/json"


def chat_completion(
    content: str,
    *,
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
    finish_reason: str = "stop",
    model: str | None = None,
) -> dict[str, Any]:
    """An OpenAI chat.completion body carrying `content` (model None: the server echoes the request's)."""
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def always(status: int, payload: dict[str, Any] | str | RawBody, delay: float = 0.0) -> Responder:
    """A responder giving the same answer to every request (e.g. `always(500, {...})`)."""

    def responder(body: dict[str, Any]) -> tuple[int, dict[str, Any] | str | RawBody, float]:
        return status, payload, delay

    return responder


def sequence(*answers: tuple[int, dict[str, Any] | str, float]) -> Responder:
    """A responder giving `answers` in order, then repeating the last (e.g. 500 then success)."""
    lock = threading.Lock()
    served = [0]

    def responder(body: dict[str, Any]) -> tuple[int, dict[str, Any] | str, float]:
        with lock:
            index = min(served[0], len(answers) - 1)
            served[0] += 1
        return answers[index]

    return responder


def closed_port_url() -> str:
    """A base URL on 127.0.0.1 whose port has no listener (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-request (a run ending, a retry giving up) is normal here: the
    stock server prints its traceback to stderr, where it lands in a test's captured output."""

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeOpenAIServer:
    """Context manager running the fake server; `.base_url` ends in /v1, `.requests` keeps bodies."""

    def __init__(
        self,
        responder: Responder,
        *,
        models: list[str] | None = None,
        api_key: str | None = None,
        max_model_len: int | None = None,
        models_delay: float = 0.0,
    ) -> None:
        self.responder = responder
        self.models_delay = models_delay
        self.max_model_len = max_model_len
        self.models = models if models is not None else ["fake-model"]
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai", daemon=True
        )

    @property
    def base_url(self) -> str:
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the
                # client's delayed ACK add ~40 ms to every response and skew latency benchmarks.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def _authorised(self) -> bool:
                if server.api_key is None:
                    return True
                if self.headers.get("Authorization") == f"Bearer {server.api_key}":
                    return True
                self._send(401, {"error": {"message": "invalid api key", "type": "auth"}})
                return False

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    if server.models_delay > 0 and server._closing.wait(server.models_delay):
                        return
                    data = [
                        {
                            "id": m,
                            "object": "model",
                            "owned_by": "fake",
                            "max_model_len": server.max_model_len,
                        }
                        for m in server.models
                    ]
                    self._send(200, {"object": "list", "data": data})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not self._authorised():
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found"}})
                    return
                body = json.loads(raw or b"{}")
                with server._lock:
                    server.requests.append(body)
                status, payload, delay = server.responder(body)
                if isinstance(payload, dict) and "choices" in payload and payload.get("model") is None:
                    payload = {**payload, "model": body.get("model", "fake-model")}
                if delay > 0 and server._closing.wait(delay):
                    return  # closing: drop the request like a dead server would
                self._send(status, payload)

            def _send(self, status: int, payload: dict[str, Any] | str | RawBody) -> None:
                if isinstance(payload, RawBody):
                    data, ctype = payload.data, payload.content_type
                elif isinstance(payload, str):
                    data, ctype = payload.encode(), "text/plain; charset=utf-8"
                else:
                    data, ctype = json.dumps(payload).encode(), "application/json"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): expected in fault tests

        return Handler
