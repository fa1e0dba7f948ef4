"""Several servers of one model in the settings: repeated --base-url, lists and [[endpoints]] in clue.toml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.fake_openai import FakeOpenAI, chat_reply
from typer.testing import CliRunner

from clue.cli import app
from clue.commands.common import GlobalOptions
from clue.config import ConfigError, load_settings

A, B, C = (f"http://10.0.0.{i}:8000/v1" for i in (1, 2, 3))


def urls(settings: object, role: str = "solver") -> list[tuple[str, float]]:
    config = settings.role(role)  # type: ignore[attr-defined]
    return [(e.url, e.weight) for e in config.endpoint_list()]


def test_a_repeated_base_url_gives_every_role_all_the_servers() -> None:
    settings = GlobalOptions(backend="openai", model="m", base_url=[A, B], no_cache=True).settings()
    for role in ("extractor", "solver", "judge", "optimizer"):
        assert urls(settings, role) == [(A, 1.0), (B, 1.0)]
        assert settings.role(role).base_url == A  # what the run's spec records
    assert settings.role("solver").endpoint() == f"openai:{A},{B}"


def test_one_base_url_stays_a_single_endpoint() -> None:
    settings = GlobalOptions(backend="openai", model="m", base_url=[A], no_cache=True).settings()
    assert settings.role("solver").endpoints == [] and urls(settings) == [(A, 1.0)]
    assert settings.role("solver").endpoint() == f"openai:{A}"


def test_endpoints_in_clue_toml_with_weights_and_per_role(tmp_path: Path) -> None:
    path = tmp_path / "clue.toml"
    path.write_text(f"""
[llm]
backend = "openai"
model = "m"

[[endpoints]]
url = "{A}"
weight = 2

[[endpoints]]
url = "{B}"

[[llm.judge.endpoints]]
url = "{C}"
""")
    settings = load_settings(path, env={}, no_cache=True)
    assert urls(settings) == [(A, 2.0), (B, 1.0)]
    assert urls(settings, "judge") == [(C, 1.0)]


def test_a_list_of_base_urls_in_clue_toml_and_a_comma_list_in_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "clue.toml"
    path.write_text(f'[llm]\nbackend = "openai"\nbase_url = ["{A}", "{B}"]\n')
    assert urls(load_settings(path, env={}, no_cache=True)) == [(A, 1.0), (B, 1.0)]
    from_env = load_settings(env={"CLUE_BACKEND": "openai", "CLUE_BASE_URL": f"{B}, {C}"}, no_cache=True)
    assert urls(from_env) == [(B, 1.0), (C, 1.0)]


def test_a_base_url_on_the_command_line_replaces_the_files_endpoints(tmp_path: Path) -> None:
    path = tmp_path / "clue.toml"
    path.write_text(f'[llm]\nbackend = "openai"\n\n[[endpoints]]\nurl = "{A}"\n\n[[endpoints]]\nurl = "{B}"\n')
    settings = load_settings(path, env={}, cli={"base_url": C}, no_cache=True)
    assert urls(settings) == [(C, 1.0)]


def test_a_bad_weight_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "clue.toml"
    path.write_text(f'[llm]\nbackend = "openai"\n\n[[endpoints]]\nurl = "{A}"\nweight = 0\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={}, no_cache=True)
    assert "weight" in str(info.value) and "\n" not in str(info.value)


def test_idle_timeout_defaults_to_timeout_s() -> None:
    settings = load_settings(env={"CLUE_TIMEOUT_S": "42"}, no_cache=True)
    assert settings.role("solver").idle_limit_s == 42
    settings = load_settings(env={"CLUE_TIMEOUT_S": "42", "CLUE_IDLE_TIMEOUT_S": "7"}, no_cache=True)
    assert settings.role("solver").idle_limit_s == 7


def test_eval_over_two_servers_spreads_the_calls_and_journals_each_endpoint(tmp_path: Path) -> None:
    servers = [FakeOpenAI(responder=lambda body: (200, chat_reply("- likes tea\n<answer>A</answer>")))
               for _ in range(2)]
    out = tmp_path / "run"
    try:
        result = CliRunner().invoke(app, [
            "--backend", "openai", "--base-url", servers[0].base_url, "--base-url", servers[1].base_url,
            "--model", "fake", "--no-cache", "eval", "--prompt", "simple", "--datasets", "membench-high",
            "--split", "train", "--limit", "6", "--repeats", "1", "--out", str(out)])
    finally:
        for server in servers:
            server.close()
    assert result.exit_code == 0, result.output
    assert all(server.requests for server in servers), "both servers got calls"
    journal = [json.loads(line) for line in (out / "usage.jsonl").read_text().splitlines()]
    served = {entry.get("endpoint") for entry in journal}
    assert served == {server.base_url for server in servers}
    assert len(journal) == sum(len(server.requests) for server in servers)
    log = json.loads((out / "log.json").read_text())
    by_endpoint = log["usage_by_endpoint"]
    assert {url: int(u["calls"]) for url, u in by_endpoint.items()} == {
        server.base_url: len(server.requests) for server in servers}
    assert "LLM usage by endpoint" in result.output
    shown = CliRunner().invoke(app, ["show", str(out)])
    assert shown.exit_code == 0 and all(server.base_url in shown.output for server in servers)
