"""Settings layers: defaults < clue.toml < CLUE_* env < CLI flags / --role overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from clue.config import (
    DEFAULT_LOCAL_MODEL,
    ROLE_DEFAULTS,
    ConfigError,
    load_settings,
    parse_role_overrides,
)
from clue.llm.types import ROLES


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clue.toml in the developer's working directory must not leak into these tests."""
    monkeypatch.chdir(tmp_path)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clue.toml"
    path.write_text(text)
    return path


def test_defaults_per_role() -> None:
    settings = load_settings(env={})
    for role in ROLES:
        config = settings.role(role)
        assert config.backend == "local"
        assert config.model == DEFAULT_LOCAL_MODEL
        assert config.temperature == ROLE_DEFAULTS[role]["temperature"]
        assert config.max_tokens == ROLE_DEFAULTS[role]["max_tokens"]
    assert settings.cache_path == Path(".clue/cache.sqlite")


def test_toml_overrides_defaults_and_role_sections_override_shared(tmp_path: Path) -> None:
    path = write_toml(tmp_path, """
[llm]
backend = "openai"
model = "shared-model"
temperature = 0.1

[llm.solver]
model = "solver-model"
concurrency = 3

[cache]
path = "elsewhere.sqlite"
""")
    settings = load_settings(path, env={})
    assert settings.role("extractor").model == "shared-model"
    assert settings.role("extractor").backend == "openai"
    assert settings.role("solver").model == "solver-model"
    assert settings.role("solver").concurrency == 3
    assert settings.role("judge").concurrency == 8
    assert all(settings.role(r).temperature == 0.1 for r in ROLES)
    assert settings.cache_path == Path("elsewhere.sqlite")


def test_clue_toml_in_cwd_is_picked_up(tmp_path: Path) -> None:
    write_toml(tmp_path, '[llm]\nmodel = "from-cwd"\n')
    assert load_settings(env={}).role("judge").model == "from-cwd"


def test_env_overrides_toml(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[llm]\nmodel = "toml-model"\nmax_tokens = 100\n'
                                '[llm.judge]\nmodel = "toml-judge"\n')
    settings = load_settings(path, env={"CLUE_MODEL": "env-model", "CLUE_MAX_TOKENS": "77"})
    assert all(settings.role(r).model == "env-model" for r in ROLES)
    assert all(settings.role(r).max_tokens == 77 for r in ROLES)


def test_per_role_env_beats_shared_env(tmp_path: Path) -> None:
    env = {"CLUE_MODEL": "shared", "CLUE_SOLVER_MODEL": "solver-only", "CLUE_JUDGE_TEMPERATURE": "0.25",
           "CLUE_EXTRACTOR_CONCURRENCY": "2", "CLUE_SOLVER_CONTEXT_SIZE": "4096",
           "CLUE_OPTIMIZER_STRIP_THINKING": "false"}
    settings = load_settings(env=env)
    assert settings.role("solver").model == "solver-only"
    assert settings.role("extractor").model == "shared"
    assert settings.role("judge").temperature == 0.25
    assert settings.role("extractor").concurrency == 2
    assert settings.role("solver").context_size == 4096
    assert settings.role("optimizer").strip_thinking is False
    assert settings.role("solver").strip_thinking is True


def test_cli_overrides_env_and_role_overrides_beat_cli(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[llm]\nmodel = "toml"\n')
    settings = load_settings(
        path,
        env={"CLUE_MODEL": "env", "CLUE_SOLVER_MODEL": "env-solver", "CLUE_BASE_URL": "http://env"},
        cli={"model": "cli", "base_url": None, "backend": "openai"},
        role_overrides=parse_role_overrides(["judge.model=role-judge", "solver.concurrency=5"]),
    )
    assert settings.role("solver").model == "cli"  # CLI flags beat even per-role env
    assert settings.role("judge").model == "role-judge"
    assert settings.role("solver").concurrency == 5
    assert settings.role("extractor").base_url == "http://env"  # a None flag does not erase a lower layer
    assert all(settings.role(r).backend == "openai" for r in ROLES)


def test_parse_role_overrides_coerces_types() -> None:
    parsed = parse_role_overrides(["solver.temperature=0.3", "judge.max_tokens=12", "solver.model=a=b"])
    assert parsed == {"solver": {"temperature": 0.3, "model": "a=b"}, "judge": {"max_tokens": 12}}


@pytest.mark.parametrize("item", ["solver.model", "wizard.model=x", "solver.colour=red", "model=x"])
def test_bad_role_override_is_one_line_and_names_item(item: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_role_overrides([item])
    message = str(info.value)
    assert "\n" not in message
    assert item in message


@pytest.mark.parametrize(("env", "culprit"), [
    ({"CLUE_MAX_TOKENS": "lots"}, "CLUE_MAX_TOKENS"),
    ({"CLUE_SOLVER_TEMPERATURE": "hot"}, "CLUE_SOLVER_TEMPERATURE"),
    ({"CLUE_JUDGE_CONTEXT_SIZE": "big"}, "CLUE_JUDGE_CONTEXT_SIZE"),
    ({"CLUE_STRIP_THINKING": "maybe"}, "CLUE_STRIP_THINKING: strip_thinking must be true or false"),
    ({"CLUE_BACKEND": "telepathy"}, "backend"),
    ({"CLUE_CONCURRENCY": "0"}, "concurrency"),
])
def test_bad_env_value_gives_one_line_error_naming_culprit(env: dict[str, str], culprit: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    message = str(info.value)
    assert "\n" not in message
    assert culprit in message


def test_bad_toml_values(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[llm]\ncolour = "red"\n')
    with pytest.raises(ConfigError, match=r"clue.toml.*'colour'"):
        load_settings(path, env={})
    path = write_toml(tmp_path, '[llm.wizard]\nmodel = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown role \[llm.wizard\]"):
        load_settings(path, env={})
    path = write_toml(tmp_path, "[llm\nmodel = ")
    with pytest.raises(ConfigError, match="cannot read config") as info:
        load_settings(path, env={})
    assert "\n" not in str(info.value)
    path = write_toml(tmp_path, '[llm.solver]\ntemperature = "warm"\n')
    with pytest.raises(ConfigError, match=r"solver\.temperature") as info:
        load_settings(path, env={})
    assert "\n" not in str(info.value)


def test_missing_config_file_and_unknown_cli_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="command line: unknown setting 'colour'"):
        load_settings(env={}, cli={"colour": "red"})


def test_cache_disabled_by_toml(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[cache]\nenabled = false\n")
    assert load_settings(path, env={}).cache_path is None


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_cache_disabled_by_env(value: str) -> None:
    assert load_settings(env={"CLUE_NO_CACHE": value}).cache_path is None


def test_cache_disabled_by_flag(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[cache]\npath = "c.sqlite"\n')
    assert load_settings(path, env={"CLUE_CACHE": "e.sqlite"}, no_cache=True).cache_path is None


def test_cache_path_precedence(tmp_path: Path) -> None:
    assert load_settings(env={"CLUE_CACHE": "env.sqlite"}).cache_path == Path("env.sqlite")
    path = write_toml(tmp_path, '[cache]\npath = "toml.sqlite"\n')
    assert load_settings(path, env={}).cache_path == Path("toml.sqlite")
    assert load_settings(path, env={"CLUE_CACHE": "env.sqlite"}).cache_path == Path("env.sqlite")


def test_decoding_and_endpoint() -> None:
    config = load_settings(env={}, cli={"backend": "openai", "base_url": "http://h:1/v1"}).role("solver")
    assert config.decoding().seed == 42
    assert config.decoding(repeat=3).seed == 45
    assert config.decoding(max_tokens=9).max_tokens == 9
    assert config.endpoint() == "openai:http://h:1/v1"
