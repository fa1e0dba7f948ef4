"""Settings for every role. Precedence: built-in defaults < clue.toml < CLUE_* environment < CLI flags."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from clue.errors import BadInputError

Role = Literal["extractor", "solver", "judge", "optimizer"]
ROLES: tuple[Role, ...] = ("extractor", "solver", "judge", "optimizer")


@dataclass(frozen=True)
class Decoding:
    """Sampling parameters for one call. `seed` makes local sampling repeatable."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int | None = None
    thinking: bool | None = None  # None: send nothing and leave the endpoint's chat template at its default
    stop: tuple[str, ...] = ()  # the reply ends before the first of these (not included); () sends none

    def as_key(self) -> dict[str, Any]:
        key: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p,
                               "max_tokens": self.max_tokens, "seed": self.seed}
        if self.thinking is not None:  # absent when unset, so caches written before the switch still hit
            key["thinking"] = self.thinking
        if self.stop:  # likewise absent when unset
            key["stop"] = list(self.stop)
        return key


BackendName = Literal["local", "openai", "scripted"]
CutThinking = Literal["raw", "empty"]
JsonMode = Literal["auto", "json_object_schema", "json_schema", "json_object", "none"]
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b"
DEFAULT_SEED = 42  # every role's sampling seed unless --seed or ROLE.seed says otherwise


class ConfigError(BadInputError):
    """A configuration value that cannot be used; the message names the file, variable or flag."""


class EndpointConfig(BaseModel):
    """One server of a role's model. `weight` scales its share of calls and its slots (concurrency x weight)."""

    model_config = ConfigDict(extra="forbid")
    url: str
    weight: float = Field(1.0, gt=0)


class RoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: BackendName = "local"
    model: str = DEFAULT_LOCAL_MODEL
    base_url: str | None = None  # the first endpoint's URL when there are several
    # Several servers of one model: calls go to the least loaded, a failing one is taken out and probed.
    endpoints: list[EndpointConfig] = Field(default_factory=list)
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = Field(512, ge=1)
    seed: int = DEFAULT_SEED
    context_size: int | None = None  # None: ask the backend (local knows it; openai assumes 40960)
    concurrency: int = Field(8, ge=1)  # the endpoint's parallel slots (requests it works on at once); >= 1
    # Requests kept waiting at the server beyond its slots, so a freed slot is refilled at once instead of
    # after a round trip through clue. None: a quarter of the slots (at least 1) for openai, 0 otherwise.
    queue_ahead: int | None = Field(None, ge=0)
    # backend "local" only: >1 serves the model with llama.cpp's llama-server, that many parallel slots
    local_slots: int = Field(1, ge=1)
    # How structured calls ask for JSON: "none" sends no response_format (the reply is free text and the JSON
    # is parsed from it); the other values ask the server for constrained decoding.
    json_mode: JsonMode = "auto"
    # A request that receives nothing for this long fails (tried twice, see clue.llm.client); a reply that
    # keeps streaming tokens is never cut. None: timeout_s, its older name.
    idle_timeout_s: float | None = Field(None, gt=0)
    timeout_s: float = Field(180.0, gt=0)
    stream: bool = True  # openai backend: stream replies (needed for the idle timeout to be per token)
    retries: int = 5
    strip_thinking: bool = True
    # Sent as the chat-template argument `enable_thinking` (vLLM, SGLang; Qwen3-style models). None: not sent.
    thinking: bool | None = None
    # Extractor: a reply cut off inside <think> becomes the memory as it is (raw, the reference) or an empty
    # memory with a note (empty).
    cut_thinking: CutThinking = "raw"
    # Final answers held to the task's format by a grammar (a letter, an integer, an expression). None: on
    # for the embedded backend, whose small models drift from the format; endpoints keep free text.
    constrained_answers: bool | None = None

    def answers_constrained(self) -> bool:
        return self.backend == "local" if self.constrained_answers is None else self.constrained_answers

    @model_validator(mode="before")
    @classmethod
    def _endpoint_list(cls, data: Any) -> Any:
        """`base_url` may name several servers (a list, or URLs separated by commas); `endpoints` entries may
        be bare URLs. Either way `endpoints` gets them all and `base_url` the first."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        urls = data.get("base_url")
        if isinstance(urls, str) and "," in urls:
            urls = [url.strip() for url in urls.split(",") if url.strip()]
        if isinstance(urls, list | tuple):
            if len(urls) > 1 or not data.get("endpoints"):
                data["endpoints"] = list(urls)
            data["base_url"] = urls[0] if urls else None
        endpoints = data.get("endpoints") or []
        if isinstance(endpoints, str):
            endpoints = [url.strip() for url in endpoints.split(",") if url.strip()]
        endpoints = [{"url": item} if isinstance(item, str) else item for item in endpoints]
        data["endpoints"] = endpoints
        if endpoints and not data.get("base_url"):
            first = endpoints[0]
            data["base_url"] = first.get("url") if isinstance(first, dict) else getattr(first, "url", None)
        return data

    def endpoint_list(self) -> list[EndpointConfig]:
        """The servers of this role's model: `endpoints`, else `base_url` alone (None: the backend's default)."""
        if self.endpoints:
            return list(self.endpoints)
        return [EndpointConfig(url=self.base_url, weight=1.0)] if self.base_url else []

    def in_flight_limit(self, slots: int) -> int:
        """Requests sent at once to a server with `slots` parallel slots (see queue_ahead)."""
        if self.queue_ahead is not None:
            return slots + self.queue_ahead
        return slots + (max(1, slots // 4) if self.backend == "openai" else 0)

    def endpoint_urls(self) -> list[str]:
        return [server.url for server in self.endpoint_list()]

    @property
    def idle_limit_s(self) -> float:
        return self.idle_timeout_s if self.idle_timeout_s is not None else self.timeout_s

    def decoding(self, *, repeat: int = 0, max_tokens: int | None = None, temperature: float | None = None,
                 stop: tuple[str, ...] = ()) -> Decoding:
        return Decoding(temperature=self.temperature if temperature is None else temperature, top_p=self.top_p,
                        max_tokens=max_tokens or self.max_tokens, seed=self.seed + repeat, thinking=self.thinking,
                        stop=stop)

    def endpoint(self) -> str:
        """The identity of the role's server(s): calls with the same one share a concurrency limit and cache."""
        if len(self.endpoints) > 1:
            return f"{self.backend}:" + ",".join(sorted(e.url for e in self.endpoints))
        return f"{self.backend}:{self.base_url or self.model}"


# Role defaults for the embedded model (`local`): the reference's sampling (extractor 0.6/0.95, solver
# 0.7/0.8) with limits a 1.5B model on a CPU can afford, and no thinking switch (its template has none).
ROLE_DEFAULTS: dict[Role, dict[str, Any]] = {
    "extractor": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 384},
    "solver": {"temperature": 0.7, "top_p": 0.8, "max_tokens": 512},
    "judge": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 64},
    "optimizer": {"temperature": 0.7, "top_p": 0.95, "max_tokens": 1024},
}
# Role defaults for OpenAI-compatible endpoints: the reference's runs with Qwen3-32B. The extractor thinks
# (max 2048 tokens), the solver does not (512; datasets set their own limits), the optimizer thinks with a
# large limit (8192; synthesis asks for up to 20000) and writes free text the JSON is parsed from, never
# constrained decoding (`json_mode = "none"`). The judge is a plain model (GPT-4o); judged tasks set their
# own decoding per call. Solver context: the reference serves Qwen3-32B with a 40,960-token window.
OPENAI_ROLE_DEFAULTS: dict[Role, dict[str, Any]] = {
    "extractor": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 2048, "thinking": True},
    "solver": {"temperature": 0.7, "top_p": 0.8, "max_tokens": 512, "thinking": False},
    "judge": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 64},
    "optimizer": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 8192, "thinking": True, "json_mode": "none"},
}


def role_defaults(backend: str, role: Role) -> dict[str, Any]:
    """The decoding defaults of `role` on `backend`; anything set in a layer overrides them."""
    return dict((OPENAI_ROLE_DEFAULTS if backend == "openai" else ROLE_DEFAULTS)[role])

_ROLE_FIELDS = set(RoleConfig.model_fields)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: dict[Role, RoleConfig]
    cache_path: Path | None = Path(".clue/cache.sqlite")

    def role(self, role: Role) -> RoleConfig:
        return self.roles[role]


def _coerce(field: str, raw: str, origin: str) -> Any:
    annotation = RoleConfig.model_fields[field].annotation
    if annotation == bool | None and raw.strip().lower() in {"none", "default", "unset", ""}:
        return None
    if annotation is bool or annotation == bool | None:
        flag = raw.strip().lower()
        if flag in {"1", "true", "yes", "on"}:
            return True
        if flag in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{origin}: {field} must be true or false, got {raw!r}")
    try:
        if annotation in (int, int | None):
            return int(raw)
        if annotation in (float, float | None):
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{origin}: {field} must be a number, got {raw!r}") from exc
    return raw


def _set(layer: dict[str, Any], key: str, value: Any) -> None:
    """Set one field; `base_url` and `endpoints` name the same servers, so a layer setting one replaces both."""
    if key == "base_url":
        layer.pop("endpoints", None)
    elif key == "endpoints":
        layer.pop("base_url", None)
    layer[key] = value


def _merge(target: dict[Role, dict[str, Any]], overrides: dict[str, Any], origin: str,
           roles: tuple[Role, ...] = ROLES) -> None:
    for key, value in overrides.items():
        if key not in _ROLE_FIELDS:
            raise ConfigError(f"{origin}: unknown setting {key!r} (known: {', '.join(sorted(_ROLE_FIELDS))})")
        for role in roles:
            _set(target[role], key, value)


def _from_toml(path: Path, layers: dict[Role, dict[str, Any]]) -> Path | str | None:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    llm = data.get("llm", {})
    if "endpoints" in data:  # [[endpoints]] at the top: the servers of every role
        _merge(layers, {"endpoints": data["endpoints"]}, f"{path} [[endpoints]]")
    shared = {k: v for k, v in llm.items() if not isinstance(v, dict)}
    _merge(layers, shared, str(path))
    for role_name, section in ((k, v) for k, v in llm.items() if isinstance(v, dict)):
        if role_name not in ROLES:
            raise ConfigError(f"{path}: unknown role [llm.{role_name}] (known: {', '.join(ROLES)})")
        _merge(layers, section, f"{path} [llm.{role_name}]", (role_name,))
    cache = data.get("cache", {})
    if cache.get("enabled") is False:
        return None
    return str(cache["path"]) if "path" in cache else "unchanged"


def _from_env(env: dict[str, str], layers: dict[Role, dict[str, Any]]) -> None:
    for field in _ROLE_FIELDS:
        shared = env.get(f"CLUE_{field.upper()}")
        if shared is not None:
            _merge(layers, {field: _coerce(field, shared, f"CLUE_{field.upper()}")}, "environment")
    for role in ROLES:
        for field in _ROLE_FIELDS:
            name = f"CLUE_{role.upper()}_{field.upper()}"
            if name in env:
                _set(layers[role], field, _coerce(field, env[name], name))


def seed_overrides(seed: int) -> tuple[str, ...]:
    """`--role` items that give every role the sampling seed `seed`."""
    return tuple(f"{role}.seed={seed}" for role in ROLES)


def parse_role_overrides(items: list[str]) -> dict[Role, dict[str, Any]]:
    """Parse CLI `--role solver.model=NAME` items."""
    parsed: dict[Role, dict[str, Any]] = {}
    for item in items:
        head, sep, value = item.partition("=")
        role, dot, field = head.partition(".")
        if not sep or not dot or role not in ROLES or field not in _ROLE_FIELDS:
            raise ConfigError(f"--role {item!r}: expected ROLE.FIELD=VALUE with ROLE in {', '.join(ROLES)}")
        parsed.setdefault(role, {})[field] = _coerce(field, value, f"--role {item}")  # type: ignore[index]
    return parsed


def load_settings(
    config_path: Path | None = None,
    *,
    env: dict[str, str] | None = None,
    cli: dict[str, Any] | None = None,
    role_overrides: dict[Role, dict[str, Any]] | None = None,
    no_cache: bool = False,
) -> Settings:
    """Build settings from all layers. `cli` holds flags that apply to every role (backend, model, base_url)."""
    env = dict(os.environ) if env is None else env
    layers: dict[Role, dict[str, Any]] = {role: {} for role in ROLES}
    cache_path: Path | None = Path(".clue/cache.sqlite")
    path = config_path or (Path("clue.toml") if Path("clue.toml").exists() else None)
    if config_path is not None and not config_path.exists():
        raise ConfigError(f"{config_path}: config file not found")
    if path is not None:
        cache_choice = _from_toml(path, layers)
        if cache_choice is None:
            cache_path = None
        elif cache_choice != "unchanged":
            cache_path = Path(str(cache_choice))
    _from_env(env, layers)
    if "CLUE_CACHE" in env:  # the environment outranks clue.toml for the cache path too
        cache_path = Path(env["CLUE_CACHE"])
    _merge(layers, {k: v for k, v in (cli or {}).items() if v is not None}, "command line")
    for role, fields in (role_overrides or {}).items():
        for key, value in fields.items():
            _set(layers[role], key, value)
    if no_cache or env.get("CLUE_NO_CACHE", "").lower() in {"1", "true", "yes"}:
        cache_path = None
    roles: dict[Role, RoleConfig] = {}
    for role in ROLES:
        backend = str(layers[role].get("backend", RoleConfig.model_fields["backend"].default))
        try:
            roles[role] = RoleConfig(**{**role_defaults(backend, role), **layers[role]})
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(map(str, first["loc"]))
            culprit = f"{role}.{field} = {first.get('input')!r}"
            raise ConfigError(f"invalid setting {culprit}: {first['msg']}") from exc
    return Settings(roles=roles, cache_path=cache_path)
