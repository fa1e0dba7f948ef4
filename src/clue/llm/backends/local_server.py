"""The embedded model served by llama.cpp's own `llama-server` with several slots (continuous batching).

One in-process model decodes one sequence at a time, and decoding is memory-bound: several sequences
decoded together cost little more than one. With `local_slots = N` (N > 1) clue starts `llama-server`
on 127.0.0.1 at a free port, with N slots of the model's context each, talks to it through the
OpenAI-compatible backend, and stops it on close (or when clue dies: the child gets SIGTERM then).

Replies are not bit-repeatable here: a sequence's logits depend on what shares its batch.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import aiohttp

from clue.llm.backends.llama_runtime import available_cpus, openmp_environment, prepare_openmp
from clue.llm.backends.openai_backend import OpenAIBackend
from clue.llm.types import Completion, Decoding, LLMError, Message
from clue.llm.weights import MODELS, local_model_path

if TYPE_CHECKING:
    from llama_cpp import Llama

prepare_openmp()  # the tokenizer below loads llama_cpp in this process

SERVER_ENV = "CLUE_LLAMA_SERVER"
SERVER_CACHE_GLOB = "llama-server-*/llama-server"
DEFAULT_CONTEXT_SIZE = 8192
START_TIMEOUT_S = 180.0
_BUILD_HINT = f"build it with `make local-server`, or set {SERVER_ENV} to a llama-server binary"


def find_llama_server(cache_root: Path | None = None) -> Path:
    """The llama-server binary: $CLUE_LLAMA_SERVER, else the newest one `make local-server` built, else PATH."""
    explicit = os.environ.get(SERVER_ENV)
    if explicit:
        if not Path(explicit).is_file():
            raise LLMError(f"{SERVER_ENV}={explicit}: no such file")
        return Path(explicit)
    root = cache_root or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clue"
    built = sorted(root.glob(SERVER_CACHE_GLOB), key=lambda path: path.stat().st_mtime, reverse=True)
    if built:
        return built[0]
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    raise LLMError(f"local_slots > 1 needs llama.cpp's llama-server, which was not found; {_BUILD_HINT}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when clue exits, even by SIGKILL (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class _Server:
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    client: OpenAIBackend
    tokenizer: Llama
    n_ctx: int

    def log_tail(self) -> str:
        self.log.flush()
        lines = [line for line in Path(self.log.name).read_text(errors="replace").splitlines() if line.strip()]
        return lines[-1][:300] if lines else "no output"


class LocalServerBackend:
    """`Backend` running each model in its own llama-server with `slots` parallel sequences."""

    name = "local-server"

    def __init__(self, *, slots: int, n_ctx: int | None = None, n_threads: int | None = None,
                 cache_dir: Path | None = None, binary: Path | None = None,
                 timeout_s: float = 600.0, start_timeout_s: float = START_TIMEOUT_S) -> None:
        if slots < 1:
            raise LLMError(f"local_slots must be at least 1, got {slots}")
        self.slots = slots
        self._n_ctx = n_ctx
        self._n_threads = n_threads or available_cpus()
        self._cache_dir = cache_dir
        self._binary = binary
        self._timeout_s = timeout_s
        self._start_timeout_s = start_timeout_s
        self._servers: dict[str, _Server] = {}
        self._starting = asyncio.Lock()

    def context_size(self, model: str) -> int | None:
        if self._n_ctx is not None:
            return self._n_ctx
        return MODELS[model].context_size if model in MODELS else DEFAULT_CONTEXT_SIZE

    def count_tokens(self, model: str, text: str) -> int:
        server = self._servers.get(model)
        tokenizer = server.tokenizer if server else self._vocab(model)
        return len(tokenizer.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _vocab(self, model: str) -> Llama:
        from llama_cpp import Llama

        return Llama(model_path=str(local_model_path(model, self._cache_dir)), vocab_only=True, verbose=False)

    async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                       json_schema: dict[str, Any] | None = None, grammar: str | None = None) -> Completion:
        server = await self._server(model)
        if server.process.poll() is not None:
            raise LLMError(f"local model {model}: llama-server exited ({server.process.returncode}): "
                           f"{server.log_tail()}")
        return await server.client.complete(model, messages, decoding, json_schema, grammar)

    async def start(self, model: str) -> str:
        """Start (or reuse) the model's server; its base URL, e.g. for llama-server's native endpoints."""
        server = await self._server(model)
        return str(server.client.base_url).removesuffix("/v1")

    async def _server(self, model: str) -> _Server:
        server = self._servers.get(model)
        if server is not None:
            return server
        async with self._starting:
            server = self._servers.get(model)
            if server is None:
                server = await self._start(model)
                self._servers[model] = server
        return server

    def _command(self, binary: Path, path: Path, port: int, n_ctx: int) -> list[str]:
        return [str(binary), "--model", str(path), "--host", "127.0.0.1", "--port", str(port),
                "--parallel", str(self.slots), "--no-kv-unified", "--ctx-size", str(n_ctx * self.slots),
                "--threads", str(self._n_threads), "--threads-batch", str(self._n_threads),
                "--cont-batching", "--no-webui", "--cache-ram", "512"]

    async def _start(self, model: str) -> _Server:
        binary = self._binary or find_llama_server()
        path = await asyncio.to_thread(local_model_path, model, self._cache_dir)
        n_ctx = self.context_size(model) or DEFAULT_CONTEXT_SIZE
        tokenizer = await asyncio.to_thread(self._vocab, model)
        port = free_port()
        log = tempfile.NamedTemporaryFile(prefix="clue-llama-server-", suffix=".log", delete=False)  # noqa: SIM115
        env = {**os.environ, **openmp_environment()}
        process = subprocess.Popen(self._command(binary, path, port, n_ctx), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, preexec_fn=_die_with_parent)
        base_url = f"http://127.0.0.1:{port}"
        server = _Server(process, log, OpenAIBackend(f"{base_url}/v1", json_mode="json_object_schema",
                                                     timeout_s=self._timeout_s, context_size=n_ctx),
                         tokenizer, n_ctx)
        try:
            await self._wait_ready(model, server, base_url)
        except BaseException:
            await self._stop(server)
            raise
        return server

    async def _wait_ready(self, model: str, server: _Server, base_url: str) -> None:
        deadline = time.monotonic() + self._start_timeout_s
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0)) as http:
            while time.monotonic() < deadline:
                if server.process.poll() is not None:
                    raise LLMError(f"local model {model}: llama-server exited at start "
                                   f"({server.process.returncode}): {server.log_tail()}")
                try:
                    async with http.get(f"{base_url}/health") as response:
                        if response.status == 200:
                            return
                except (TimeoutError, aiohttp.ClientError):
                    pass
                await asyncio.sleep(0.2)
        raise LLMError(f"local model {model}: llama-server not ready after {self._start_timeout_s:.0f}s: "
                       f"{server.log_tail()}")

    async def _stop(self, server: _Server) -> None:
        await server.client.aclose()
        if server.process.poll() is None:
            server.process.terminate()
            try:
                await asyncio.to_thread(server.process.wait, 10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                await asyncio.to_thread(server.process.wait)
        server.tokenizer.close()
        server.log.close()
        Path(server.log.name).unlink(missing_ok=True)

    async def aclose(self) -> None:
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            await self._stop(server)
