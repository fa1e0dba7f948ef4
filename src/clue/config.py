"""Settings for every role. Precedence: built-in defaults < clue.toml < CLUE_* environment < CLI flags."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class ConfigError(BadInputError):
    """A configuration value that cannot be used; the message names the file, variable or flag."""


class RoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: BackendName = "local"
    model: str = DEFAULT_LOCAL_MODEL
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = Field(512, ge=1)
    seed: int = 42
    context_size: int | None = None  # None: ask the backend (local knows it; openai assumes 40960)
    concurrency: int = Field(8, ge=1)  # in-flight requests per endpoint; 0 would deadlock
    # backend "local" only: >1 serves the model with llama.cpp's llama-server, that many parallel slots
    local_slots: int = Field(1, ge=1)
    # How structured calls ask for JSON: "none" sends no response_format (the reply is free text and the JSON
    # is parsed from it); the other values ask the server for constrained decoding.
    json_mode: JsonMode = "auto"
    timeout_s: float = 180.0  # per request; a silent endpoint errors after 2 tries (see clue.llm.client)
    retries: int = 5
    strip_thinking: bool = True
    # Sent as the chat-template argument `enable_thinking` (vLLM, SGLang; Qwen3-style models). None: not sent.
    thinking: bool | None = None
    # Extractor: a reply cut off inside <think> becomes the memory as it is (raw, the reference) or an empty
    # memory with a note (empty).
    cut_thinking: CutThinking = "raw"

    def decoding(self, *, repeat: int = 0, max_tokens: int | None = None, temperature: float | None = None,
                 stop: tuple[str, ...] = ()) -> Decoding:
        return Decoding(temperature=self.temperature if temperature is None else temperature, top_p=self.top_p,
                        max_tokens=max_tokens or self.max_tokens, seed=self.seed + repeat, thinking=self.thinking,
                        stop=stop)

    def endpoint(self) -> str:
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
        if annotation is float:
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{origin}: {field} must be a number, got {raw!r}") from exc
    return raw


def _merge(target: dict[Role, dict[str, Any]], overrides: dict[str, Any], origin: str,
           roles: tuple[Role, ...] = ROLES) -> None:
    for key, value in overrides.items():
        if key not in _ROLE_FIELDS:
            raise ConfigError(f"{origin}: unknown setting {key!r} (known: {', '.join(sorted(_ROLE_FIELDS))})")
        for role in roles:
            target[role][key] = value


def _from_toml(path: Path, layers: dict[Role, dict[str, Any]]) -> Path | str | None:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    llm = data.get("llm", {})
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
                layers[role][field] = _coerce(field, env[name], name)


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
        layers[role].update(fields)
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
