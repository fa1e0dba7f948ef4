"""In-process inference with llama-cpp-python on an embedded GGUF (see `clue.llm.weights`).

Models load lazily, once per model name, and stay loaded. All inference in the process runs on one
worker thread (`llama_runtime.INFERENCE`), one call at a time: a llama.cpp context is not thread-safe,
and every call already uses all the CPUs it may. Waiting calls queue there, ranked so that calls of
rollouts already under way go first (`clue.llm.scheduling`). Prompt prefixes shared between calls are
evaluated once (`prefix_cache`), without changing any reply.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from clue.llm.backends.cpu_share import ThreadGovernor, govern_decode_threads, governed_by_default
from clue.llm.backends.llama_runtime import INFERENCE, available_cpus, prepare_openmp
from clue.llm.backends.prefix_cache import DEFAULT_STORE_BYTES, PrefillStats, PrefixCache
from clue.llm.scheduling import call_rank
from clue.llm.types import Completion, ContextOverflowError, Decoding, LLMError, Message
from clue.llm.weights import MODELS, local_model_path

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

prepare_openmp()  # before anything imports llama_cpp

# For a GGUF given by path we know nothing about; every model we ship runs at 8192 by default.
DEFAULT_CONTEXT_SIZE = 8192
# Prompts are evaluated, and their prefixes reused, in blocks of this many tokens. Smaller blocks reuse
# more of a shared prefix (an extraction prompt is ~300 tokens); prefill speed measured in bench runs.
DEFAULT_N_BATCH = 256
_INSTALL_HINT = "install the local extra: pip install -e '.[local]' (or `make venv`)"


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300]}" if text else type(error).__name__


@dataclass
class _LoadedModel:
    llama: Llama
    n_ctx: int
    prefixes: PrefixCache | None
    grammars: dict[str, LlamaGrammar] = field(default_factory=dict)
    closed: bool = False


def _close_all(models: Mapping[str, _LoadedModel]) -> None:
    for loaded in models.values():
        loaded.closed = True
        loaded.llama.close()


class LocalBackend:
    """`Backend` over llama-cpp-python. `model` is a name from `clue.llm.weights.MODELS` or a .gguf path.

    `n_ctx` overrides the context size: one int for every model, or a mapping from model to size.
    `n_threads` defaults to the CPUs this process may use (affinity mask and container quota); with
    `fair_decode_threads` single-token decode steps use only the CPUs other busy processes leave free
    (`cpu_share`; default on, off with CLUE_LOCAL_FIXED_THREADS=1).
    `reuse_prompt_prefix` evaluates whole `n_batch`-token blocks of a prompt prefix only once; replies
    stay bit-identical to a fresh evaluation (see `prefix_cache`). `prefix_store_bytes` bounds the RAM
    kept for earlier prefixes, per model; 0 reuses only the live context.
    """

    name = "local"

    def __init__(self, *, n_ctx: int | Mapping[str, int] | None = None, n_threads: int | None = None,
                 seed: int = 0, cache_dir: Path | None = None, flash_attn: bool = False,
                 reuse_prompt_prefix: bool = True, n_batch: int = DEFAULT_N_BATCH,
                 prefix_store_bytes: int = DEFAULT_STORE_BYTES, fair_decode_threads: bool | None = None) -> None:
        self._n_ctx = n_ctx
        self._n_threads = n_threads or available_cpus()
        self._fair_decode_threads = governed_by_default() if fair_decode_threads is None else fair_decode_threads
        self._seed = seed
        self._cache_dir = cache_dir
        self._flash_attn = flash_attn
        self._reuse_prompt_prefix = reuse_prompt_prefix
        self._n_batch = n_batch
        self._prefix_store_bytes = prefix_store_bytes
        self._models: dict[str, _LoadedModel] = {}
        self._load_lock = threading.Lock()

    def context_size(self, model: str) -> int | None:
        if isinstance(self._n_ctx, int):
            return self._n_ctx
        if self._n_ctx is not None and model in self._n_ctx:
            return self._n_ctx[model]
        if model in MODELS:
            return MODELS[model].context_size
        return DEFAULT_CONTEXT_SIZE

    def count_tokens(self, model: str, text: str) -> int:
        """Exact count with the model's own tokenizer (loads the model on first use)."""
        loaded = self._loaded(model)
        try:
            # Tokenizing only reads the vocabulary, so it may run beside a generation.
            return len(loaded.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))
        except Exception as exc:
            raise LLMError(f"local model {model}: tokenizing failed: {_one_line(exc)}") from exc

    def prefill_stats(self) -> PrefillStats:
        """Prompt tokens requested and actually evaluated, summed over this backend's models."""
        total = PrefillStats()
        for loaded in self._models.values():
            if loaded.prefixes is not None:
                total.requested += loaded.prefixes.stats.requested
                total.computed += loaded.prefixes.stats.computed
                total.restored += loaded.prefixes.stats.restored
        return total

    async def complete(self, model: str, messages: list[Message], decoding: Decoding,
                       json_schema: dict[str, Any] | None = None, grammar: str | None = None) -> Completion:
        rank = call_rank()
        loaded = await asyncio.to_thread(self._loaded, model)
        if grammar is None:  # the call as it was before grammars (subclasses in tests override it)
            return await asyncio.wrap_future(INFERENCE.submit(
                rank, lambda: self._complete_blocking(model, loaded, messages, decoding, json_schema)))
        return await asyncio.wrap_future(INFERENCE.submit(
            rank, lambda: self._complete_blocking(model, loaded, messages, decoding, json_schema, grammar)))

    async def aclose(self) -> None:
        with self._load_lock:
            models, self._models = self._models, {}
        if models:
            # Ranked last: runs after every call already queued for these models.
            await asyncio.wrap_future(INFERENCE.submit(math.inf, lambda: _close_all(models)))

    def _loaded(self, model: str) -> _LoadedModel:
        loaded = self._models.get(model)
        if loaded is not None:
            return loaded
        with self._load_lock:
            loaded = self._models.get(model)
            if loaded is None:
                loaded = self._load(model)
                self._models[model] = loaded
        return loaded

    def _load(self, model: str) -> _LoadedModel:
        path = local_model_path(model, self._cache_dir)
        n_ctx = self.context_size(model) or DEFAULT_CONTEXT_SIZE
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMError(f"local model {model}: llama-cpp-python is missing; {_INSTALL_HINT}") from exc
        try:
            llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=self._n_threads,
                          n_threads_batch=self._n_threads, n_batch=self._n_batch, seed=self._seed,
                          flash_attn=self._flash_attn, verbose=False)
        except Exception as exc:
            raise LLMError(f"local model {model}: loading {path} failed: {_one_line(exc)}") from exc
        if self._fair_decode_threads and self._n_threads > 1:
            govern_decode_threads(llama, ThreadGovernor(self._n_threads))
        prefixes = PrefixCache(llama, store_bytes=self._prefix_store_bytes) if self._reuse_prompt_prefix else None
        return _LoadedModel(llama=llama, n_ctx=n_ctx, prefixes=prefixes)

    def _grammar_for(self, model: str, loaded: _LoadedModel, json_schema: dict[str, Any]) -> LlamaGrammar:
        """The schema's grammar, compiled here so an unsupported schema fails loudly.

        llama-cpp-python's `response_format={"type": "json_object", "schema": ...}` builds the same
        grammar but silently falls back to unconstrained JSON when the schema cannot be converted.
        """
        key = json.dumps(_without_long_string_bounds(json_schema), sort_keys=True)
        grammar = loaded.grammars.get(key)
        if grammar is None:
            from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

            try:
                grammar = LlamaGrammar.from_string(json_schema_to_gbnf(key), verbose=False)
            except Exception as exc:
                raise LLMError(f"local model {model}: JSON schema not supported by llama.cpp grammars: "
                               f"{_one_line(exc)}") from exc
            loaded.grammars[key] = grammar
        return grammar

    def _gbnf_grammar(self, model: str, loaded: _LoadedModel, gbnf: str) -> LlamaGrammar:
        """A GBNF grammar given as text (an answer format), compiled once per model."""
        grammar = loaded.grammars.get(gbnf)
        if grammar is None:
            from llama_cpp.llama_grammar import LlamaGrammar

            try:
                grammar = LlamaGrammar.from_string(gbnf, verbose=False)
            except Exception as exc:
                raise LLMError(f"local model {model}: grammar not accepted by llama.cpp: {_one_line(exc)}") from exc
            loaded.grammars[gbnf] = grammar
        return grammar

    def _complete_blocking(self, model: str, loaded: _LoadedModel, messages: list[Message],
                           decoding: Decoding, json_schema: dict[str, Any] | None,
                           gbnf: str | None = None) -> Completion:
        if loaded.closed:
            raise LLMError(f"local model {model}: the backend was closed")
        grammar = self._grammar_for(model, loaded, json_schema) if json_schema is not None else None
        if gbnf is not None:
            grammar = self._gbnf_grammar(model, loaded, gbnf)
        started = time.perf_counter()
        try:
            if loaded.prefixes is None:
                loaded.llama.reset()  # type: ignore[no-untyped-call]
            try:
                response = loaded.llama.create_chat_completion(
                    messages=cast(Any, messages), temperature=decoding.temperature, top_p=decoding.top_p,
                    max_tokens=decoding.max_tokens, seed=decoding.seed, grammar=grammar,
                    stop=list(decoding.stop) or None)
            except BaseException:
                if loaded.prefixes is not None:
                    loaded.prefixes.forget_live()
                raise
            if loaded.prefixes is not None:
                loaded.prefixes.after_call()
        except ValueError as exc:
            if "exceed context window" in str(exc):
                raise ContextOverflowError(f"local model {model}: prompt does not fit n_ctx {loaded.n_ctx}: "
                                           f"{_one_line(exc)}") from exc
            raise LLMError(f"local model {model}: {_one_line(exc)}") from exc
        except Exception as exc:
            raise LLMError(f"local model {model}: {_one_line(exc)}") from exc
        latency = time.perf_counter() - started
        reply = cast(dict[str, Any], response)
        choice = reply["choices"][0]
        usage = reply.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            latency_s=latency,
            finish_reason=choice.get("finish_reason") or "stop",
        )


# llama.cpp unrolls a string's maxLength into that many grammar rules; around 2000 it fails and then
# crashes the process instead of raising. Longer bounds are left to pydantic's validation of the reply.
GRAMMAR_MAX_STRING_BOUND = 512


def _without_long_string_bounds(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_long_string_bounds(v) for k, v in node.items()
                if not (k == "maxLength" and isinstance(v, int) and v > GRAMMAR_MAX_STRING_BOUND)}
    if isinstance(node, list):
        return [_without_long_string_bounds(v) for v in node]
    return node
