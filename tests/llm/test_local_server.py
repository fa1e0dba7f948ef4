"""LocalServerBackend's lifecycle: start llama-server on a free local port, use it, stop it, report crashes.

The server here is a small stand-in speaking llama-server's health and chat endpoints (the real binary
needs `make local-server`); the tokenizer is the real SmolLM2 vocabulary.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from clue.config import load_settings
from clue.llm.backends.local_server import LocalServerBackend, find_llama_server
from clue.llm.client import make_backend
from clue.llm.types import Decoding, LLMError

pytestmark = pytest.mark.model

MODEL = "smollm2-135m"

FAKE_SERVER = r'''#!{python}
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = sys.argv[1:]
option = lambda name: args[args.index(name) + 1]
with open({record!r}, "w") as handle:
    json.dump(args, handle)
if {crash}:
    print("error: failed to load model (stand-in crash)", flush=True)
    sys.exit(3)
ready_at = time.monotonic() + 0.3

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        loading = time.monotonic() < ready_at
        self.reply(503 if loading else 200, {{"status": "loading model" if loading else "ok"}})

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = "slots=" + option("--parallel") + " last=" + request["messages"][-1]["content"]
        self.reply(200, {{"choices": [{{"message": {{"content": text}}, "finish_reason": "stop"}}],
                          "usage": {{"prompt_tokens": 7, "completion_tokens": 3}}}})

ThreadingHTTPServer((option("--host"), int(option("--port"))), Handler).serve_forever()
'''


def fake_server(tmp_path: Path, *, crash: bool = False) -> tuple[Path, Path]:
    record = tmp_path / "args.json"
    binary = tmp_path / "llama-server"
    binary.write_text(FAKE_SERVER.format(python=sys.executable, record=str(record), crash=crash))
    binary.chmod(0o755)
    return binary, record


async def test_the_server_starts_on_a_local_port_serves_and_stops(tmp_path: Path) -> None:
    binary, record = fake_server(tmp_path)
    backend = LocalServerBackend(slots=3, n_ctx=1024, n_threads=2, binary=binary)
    try:
        reply = await backend.complete(MODEL, [{"role": "user", "content": "hello"}], Decoding(max_tokens=8))
        again = await backend.complete(MODEL, [{"role": "user", "content": "again"}], Decoding(max_tokens=8))
        process = backend._servers[MODEL].process
        assert backend.count_tokens(MODEL, "hello world") >= 2
    finally:
        await backend.aclose()

    assert reply.text == "slots=3 last=hello" and again.text == "slots=3 last=again"
    assert (reply.prompt_tokens, reply.completion_tokens) == (7, 3)
    args = json.loads(record.read_text())
    assert args[args.index("--host") + 1] == "127.0.0.1"
    assert args[args.index("--ctx-size") + 1] == str(3 * 1024)  # every slot gets the full context
    assert args[args.index("--threads") + 1] == "2"
    assert process.poll() is not None, "aclose must stop the server"


async def test_a_server_that_dies_at_start_is_a_one_line_error_with_its_last_words(tmp_path: Path) -> None:
    binary, _ = fake_server(tmp_path, crash=True)
    backend = LocalServerBackend(slots=2, binary=binary)
    with pytest.raises(LLMError) as raised:
        await backend.complete(MODEL, [{"role": "user", "content": "hi"}], Decoding(max_tokens=8))
    await backend.aclose()

    message = str(raised.value)
    assert "exited at start (3)" in message and "stand-in crash" in message and "\n" not in message


def test_a_missing_server_binary_says_how_to_build_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLUE_LLAMA_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LLMError, match="make local-server"):
        find_llama_server(cache_root=tmp_path)

    monkeypatch.setenv("CLUE_LLAMA_SERVER", str(tmp_path / "nope"))
    with pytest.raises(LLMError, match="no such file"):
        find_llama_server(cache_root=tmp_path)


def test_the_built_server_is_found_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLUE_LLAMA_SERVER", raising=False)
    built = tmp_path / "llama-server-0.3.36-abc123" / "llama-server"
    built.parent.mkdir()
    built.write_text("")
    assert find_llama_server(cache_root=tmp_path) == built


def test_local_slots_above_one_selects_the_server_backend() -> None:
    settings = load_settings(env={"CLUE_LOCAL_SLOTS": "4"})
    backend = make_backend(settings.role("solver"))
    assert isinstance(backend, LocalServerBackend) and backend.slots == 4
    assert type(make_backend(load_settings(env={}).role("solver"))).__name__ == "LocalBackend"
    # importing the backend set a wait policy for llama.cpp, which the server gets too
    assert os.environ.get("OMP_WAIT_POLICY") or os.environ.get("GOMP_SPINCOUNT")
