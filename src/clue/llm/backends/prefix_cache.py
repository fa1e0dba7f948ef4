"""Reuse the KV state of prompt prefixes across calls, without changing any reply.

llama-cpp-python on its own reuses only the prefix shared with the previous call, and the reply then
depends on that history: a prefix evaluated in a different batch gives logits that differ in the last
bits. Here a prompt is always evaluated in blocks of `block` tokens aligned to position 0 (the
context's n_batch), and only whole blocks are ever reused, from the live context or from a RAM store
of earlier prefixes. Every token is therefore computed in the same batch, on the same history, as in a
fresh evaluation, and the reply is the same bits whatever ran before.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp import Llama

DEFAULT_STORE_BYTES = 512 << 20


@dataclass
class PrefillStats:
    """Prompt tokens asked for, and those actually evaluated (the rest came from reused KV state)."""

    requested: int = 0
    computed: int = 0
    restored: int = 0  # prefixes loaded from the RAM store

    @property
    def reused(self) -> int:
        return self.requested - self.computed


def _common_prefix(left: Sequence[int], right: Sequence[int]) -> int:
    count = 0
    for a, b in zip(left, right, strict=False):
        if a != b:
            break
        count += 1
    return count


class PrefixCache:
    """Attach to one `Llama`; wraps its `generate` so every prompt starts from the best aligned prefix."""

    def __init__(self, llama: Llama, *, store_bytes: int = DEFAULT_STORE_BYTES) -> None:
        self.llama = llama
        self.block = int(llama.n_batch)
        self.store_bytes = store_bytes
        self.stats = PrefillStats()
        self._store: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self._live_valid = 0  # live KV positions [0, _live_valid) were computed in aligned whole blocks
        self._last_prompt: list[int] = []
        self._generate = llama.generate
        llama.generate = self._wrapped_generate  # type: ignore[method-assign]

    @property
    def stored_bytes(self) -> int:
        return sum(len(state) for state in self._store.values())

    def _aligned(self, tokens: int) -> int:
        return tokens // self.block * self.block

    def _wrapped_generate(self, tokens: Sequence[int], *args: Any, **kwargs: Any) -> Generator[int, Any, None]:
        prompt = list(tokens)
        self._prepare(prompt)
        self._last_prompt = prompt
        return self._generate(prompt, *args, **kwargs)  # type: ignore[no-any-return]

    def _prepare(self, prompt: list[int]) -> None:
        """Leave the context holding exactly the best reusable aligned prefix; `generate` evaluates the rest."""
        llama = self.llama
        # At least one prompt token is always evaluated: its logits start the reply.
        limit = self._aligned(len(prompt) - 1)
        live = self._aligned(min(_common_prefix(llama.input_ids[:llama.n_tokens].tolist(), prompt),
                                 self._live_valid, limit))
        stored_key, stored = max(((key, len(key)) for key in self._store
                                  if len(key) <= limit and len(key) > live
                                  and _common_prefix(key, prompt) == len(key)),
                                 key=lambda item: item[1], default=(None, 0))
        start = live
        if stored_key is not None and self._restore(stored_key):
            start = stored
            self.stats.restored += 1
        else:
            llama.n_tokens = live  # `generate` drops the KV state beyond this position
        self.stats.requested += len(prompt)
        self.stats.computed += len(prompt) - start

    def _restore(self, key: tuple[int, ...]) -> bool:
        import llama_cpp

        state = self._store[key]
        self._store.move_to_end(key)
        llama = self.llama
        llama._ctx.kv_cache_clear()  # type: ignore[no-untyped-call]
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buffer, len(state), 0) != len(state):
            llama._ctx.kv_cache_clear()  # type: ignore[no-untyped-call]
            llama.n_tokens = 0
            del self._store[key]
            return False
        llama.input_ids[:len(key)] = key
        llama.n_tokens = len(key)
        return True

    def after_call(self) -> None:
        """Keep only the prompt's whole blocks as the live state, and store them for later calls."""
        llama = self.llama
        valid = self._aligned(len(self._last_prompt))
        self._live_valid = valid
        if valid == 0:
            return
        llama._ctx.kv_cache_seq_rm(0, valid, -1)
        llama.n_tokens = valid
        key = tuple(self._last_prompt[:valid])
        if self.store_bytes <= 0 or key in self._store:
            if key in self._store:
                self._store.move_to_end(key)
            return
        self._put(key, self._save())

    def forget_live(self) -> None:
        """After a failed call the live state is unknown: start the next one from a clean context."""
        self._live_valid = 0
        self.llama.n_tokens = 0

    def _save(self) -> bytes:
        import llama_cpp

        ctx = self.llama._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        return ctypes.string_at(buffer, written)

    def _put(self, key: tuple[int, ...], state: bytes) -> None:
        if len(state) > self.store_bytes:
            return
        self._store[key] = state
        total = self.stored_bytes
        while total > self.store_bytes:
            _, dropped = self._store.popitem(last=False)
            total -= len(dropped)
