"""A fake OpenAI-compatible server on loopback, shared by the endpoint tests."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from clue.config import load_settings
from clue.llm.client import LLM

Reply = tuple[int, dict[str, Any] | str | bytes]  # str/bytes are sent as text/html


def chat_reply(text: str, model: str = "fake", prompt_tokens: int = 11, completion_tokens: int = 3,
               finish_reason: str = "stop") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def echo(body: dict[str, Any]) -> Reply:
    last = body["messages"][-1]["content"]
    return 200, chat_reply(f"echo: {last[-40:]}<answer>A</answer>", model=body["model"])


def rejecting(status: int, message: str) -> Callable[[dict[str, Any]], Reply]:
    """An endpoint that refuses every request as OpenAI does (404 unknown model, 401 bad key, 400)."""
    kinds = {400: "invalid_request_error", 401: "invalid_api_key", 404: "model_not_found"}
    error = {"message": message, "type": kinds.get(status, "error"), "param": None, "code": kinds.get(status)}
    return lambda body: (status, {"error": error})


def not_json(body: dict[str, Any]) -> Reply:
    """A 200 whose body is an HTML page (a proxy or a web server in front of nothing)."""
    return 200, "<html><body>Welcome to nginx!</body></html>"


def no_choices(body: dict[str, Any]) -> Reply:
    """A 200 with JSON that is not a completion."""
    return 200, {"object": "list", "data": []}


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # the resume test brings a server back on the port it had
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a client that hung up, or a killed server: nothing to report


def stream_events(payload: dict[str, Any], with_usage: bool) -> list[dict[str, Any]]:
    """A chat.completion reply cut into the chunks a streaming server sends: one per word, then the
    finish reason, then (when asked for) the usage. A payload that is no completion is sent as one event."""
    if not payload.get("choices"):
        return [payload]
    choice = payload["choices"][0]
    text = choice["message"].get("content") or ""
    pieces = text.split(" ")
    words = [piece + (" " if at < len(pieces) - 1 else "") for at, piece in enumerate(pieces)]
    base = {"id": payload.get("id", "chatcmpl-1"), "object": "chat.completion.chunk", "created": 0,
            "model": payload.get("model", "fake")}
    events = [{**base, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
              for word in words if word]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]})
    if with_usage:
        events.append({**base, "choices": [], "usage": payload["usage"]})
    return events


class FakeOpenAI:
    """A threaded stdlib HTTP server speaking just enough of /v1/chat/completions.

    `script` replies are used first, in order; then `responder(body)` answers every request.
    """

    def __init__(self, port: int = 0, responder: Callable[[dict[str, Any]], Reply] = echo) -> None:
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.script: list[Reply] = []
        self.responder = responder
        self.delay_s = 0.0  # every reply waits this long (a silent endpoint)
        self.streams = True  # answer `stream: true` requests with server-sent events (else one JSON body)
        self.piece_delay_s = 0.0  # between two streamed pieces (a slow server that keeps sending)
        self.refuse_stream_options = False  # an older server: 400 when a request has stream_options
        self.cut_streams = False  # end every stream after its first piece, without a finish reason
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.requests.append(body)
                    fake.paths.append(self.path)
                    status: int
                    payload: dict[str, Any] | str | bytes
                    if fake.refuse_stream_options and "stream_options" in body:
                        status, payload = 400, {"error": {"message": "Unrecognized request argument supplied: "
                                                                     "stream_options"}}
                    else:
                        status, payload = fake.script.pop(0) if fake.script else fake.responder(body)
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                if status == 200 and isinstance(payload, dict) and body.get("stream") and fake.streams:
                    self._stream(payload, bool((body.get("stream_options") or {}).get("include_usage")))
                    return
                is_text = isinstance(payload, str | bytes)
                data = (payload if isinstance(payload, bytes) else payload.encode() if isinstance(payload, str)
                        else json.dumps(payload).encode())
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if is_text else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, payload: dict[str, Any], with_usage: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                events = stream_events(payload, with_usage)
                for event in events[:1] if fake.cut_streams else events:
                    if fake.piece_delay_s:
                        time.sleep(fake.piece_delay_s)
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = _Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01},
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.delay_s = 0.0
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def kill(self) -> None:
        """Die as a crashed server does: stop listening and cut every open connection mid-request."""
        self.server.shutdown()
        self.server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self._thread.join()


def free_port() -> int:
    """A loopback port with nothing listening on it (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_llm(base_url: str, *overrides: str, retries: int = 2, tmp_cache: Path | None = None) -> LLM:
    """An LLM whose every role uses the openai backend at `base_url`; ROLE.FIELD=VALUE overrides."""
    role_overrides: dict[Any, dict[str, Any]] = {}
    for item in overrides:
        head, _, value = item.partition("=")
        role, _, field = head.partition(".")
        role_overrides.setdefault(role, {})[field] = value
    env = {"CLUE_RETRIES": str(retries)}
    if tmp_cache is not None:
        env["CLUE_CACHE"] = str(tmp_cache)
    settings = load_settings(env=env, cli={"backend": "openai", "base_url": base_url, "model": "fake"},
                             role_overrides=role_overrides, no_cache=tmp_cache is None)
    return LLM(settings, retry_wait_s=0.001)


