"""An OpenAI-compatible stub server on loopback, for fast deterministic tests.

It speaks just enough of the API for the real `openai` client: GET /v1/models and
POST /v1/chat/completions. Tests script it: a responder maps messages to a reply, a fault
queue injects status codes, Retry-After headers and slow answers, and every request is
recorded (with its Authorization header) so tests can count calls.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Fault:
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering (a slow answer, or a timeout)
    body: dict | None = None
    raw: bytes | None = None  # answer these bytes as they are (a malformed answer)
    content_type: str = "application/json"


def echo_responder(messages: list[dict]) -> str:
    return "echo: " + messages[-1]["content"]


class StubLLM:
    def __init__(
        self,
        responder: Callable[[list[dict]], str] = echo_responder,
        models: tuple[str, ...] = ("stub-model",),
        api_key: str | None = None,
        port: int = 0,
    ) -> None:
        self.responder = responder
        self.request_responder: Callable[[dict], str] | None = None
        self.models = models
        self.api_key = api_key
        self.faults: deque[Fault] = deque()
        self.requests: list[dict] = []
        self.in_flight = 0
        self.stream_delay_s = 0.0  # between streamed pieces (to see a client stop reading)
        self.streams: list[tuple[int, int]] = []  # (pieces sent, pieces in the answer)
        self.refuse_streams = False  # answer a streamed request 400, as servers without it do
        self.max_in_flight = 0  # how many completions were ever answered at once
        self._lock = threading.Lock()
        ThreadingHTTPServer.allow_reuse_address = True  # restart on the same port (endpoint back)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def completions(self) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def start(self) -> StubLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _gate(self, payload: dict) -> bool:
                """Record, apply a queued fault or the auth check; False if answered."""
                stub.requests.append(
                    {"path": self.path, "body": payload, "authorization": self.headers.get("Authorization")}
                )
                if stub.faults:
                    fault = stub.faults.popleft()
                    time.sleep(fault.delay_s)
                    if fault.raw is not None:
                        self.send_response(fault.status)
                        self.send_header("Content-Type", fault.content_type)
                        self.send_header("Content-Length", str(len(fault.raw)))
                        self.end_headers()
                        self.wfile.write(fault.raw)
                        return False
                    if fault.status != 200 or fault.body is not None:
                        self._send(
                            fault.status,
                            fault.body or {"error": {"message": f"injected {fault.status}"}},
                            fault.headers,
                        )
                        return False
                if not self.path.startswith("/v1/"):
                    self._send(404, {"error": {"message": "Not Found"}})
                    return False
                if stub.api_key and self.headers.get("Authorization") != f"Bearer {stub.api_key}":
                    self._send(
                        401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
                    )
                    return False
                return True

            def do_GET(self) -> None:  # noqa: N802
                if not self._gate({}):
                    return
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {"id": m, "object": "model", "created": 0, "owned_by": "stub"}
                            for m in stub.models
                        ],
                    },
                )

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                if not self._gate(payload):
                    return
                if payload.get("model") not in stub.models:
                    self._send(
                        404,
                        {
                            "error": {
                                "message": f"The model `{payload.get('model')}` does not exist",
                                "code": "model_not_found",
                            }
                        },
                    )
                    return
                with stub._lock:
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                try:
                    if stub.request_responder is not None:  # sees temperature, seed, ...
                        text = stub.request_responder(payload)
                    else:
                        text = stub.responder(payload["messages"])
                except Exception as e:  # a broken test responder: say so, not "cannot connect"
                    self._send(500, {"error": {"message": f"stub responder raised {e!r}"}})
                    return
                finally:
                    with stub._lock:
                        stub.in_flight -= 1
                if payload.get("stream") and stub.refuse_streams:
                    self._send(400, {"error": {"message": "Unrecognized request argument: stream_options"}})
                    return
                if payload.get("stream"):
                    self._stream(payload, text)
                    return
                self._send(
                    200,
                    {
                        "id": "chatcmpl-stub",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": payload["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": text},
                            }
                        ],
                        "usage": {
                            "prompt_tokens": sum(len(m["content"].split()) for m in payload["messages"]),
                            "completion_tokens": len(text.split()),
                            "total_tokens": 0,
                        },
                    },
                )

            def _stream(self, payload: dict, text: str) -> None:
                """Server-sent events as llama-server sends them: a piece per chunk, then
                the finish reason, then usage (asked for by stream_options)."""
                pieces = re.findall(r"\s*\S+|\s+", text)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()

                def event(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
                    chunk = {
                        "id": "chatcmpl-stub",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": payload["model"],
                        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    if usage:
                        chunk["usage"] = usage
                    return f"data: {json.dumps(chunk)}\n\n".encode()

                sent = 0
                try:
                    for piece in pieces:
                        self.wfile.write(event({"content": piece}))
                        self.wfile.flush()
                        sent += 1
                        time.sleep(stub.stream_delay_s)
                    self.wfile.write(event({}, "stop"))
                    prompt = sum(len(m["content"].split()) for m in payload["messages"])
                    usage = {"prompt_tokens": prompt, "completion_tokens": len(pieces), "total_tokens": 0}
                    self.wfile.write(event({}, usage=usage) + b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what a cut answer looks like here
                finally:
                    stub.streams.append((sent, len(pieces)))

        return Handler


def main() -> None:
    """Run the stub from the command line (for the CLI tests): prints its URL."""
    import sys

    stub = StubLLM().start()
    print(stub.url, flush=True)
    try:
        sys.stdin.read()
    finally:
        stub.stop()


if __name__ == "__main__":
    main()
