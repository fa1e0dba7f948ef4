"""A fake OpenAI-compatible server on loopback, shared by the endpoint tests."""

from __future__ import annotations

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
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.requests.append(body)
                    fake.paths.append(self.path)
                    status, payload = fake.script.pop(0) if fake.script else fake.responder(body)
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                is_text = isinstance(payload, str | bytes)
                data = (payload if isinstance(payload, bytes) else payload.encode() if isinstance(payload, str)
                        else json.dumps(payload).encode())
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if is_text else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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


