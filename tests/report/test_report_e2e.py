"""`clue demo` with the real SmolLM2 model (short built-in pairs), ending with its report."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clue.bench.run.rollouts import read_rollouts
from clue.cli import app

pytestmark = pytest.mark.model


def resolve(value: Any, texts: list[str]) -> Any:
    if isinstance(value, dict):
        return texts[value["$t"]] if set(value) == {"$t"} else {k: resolve(v, texts) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, texts) for v in value]
    return value


def test_demo_on_the_real_model_reports_what_it_ran(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["--backend", "local", "--model", "smollm2-135m", "--no-cache",
                                      "--role", "extractor.max_tokens=32", "demo", "--no-evolve", "--held-out", "1",
                                      "--compare", "factual-experiential", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    start = html.index('id="transcript-chunks">') + len('id="transcript-chunks">')
    chunks = [json.loads(gzip.decompress(base64.b64decode(c))) for c in
              json.loads(html[start:html.index("</script>", start)])]
    records = {r["rollout_id"]: r for c in chunks for r in resolve(c["records"], c["texts"])}
    ran = [r for name in ("no-memory", "simple", "factual-experiential")
           for r in read_rollouts(out / name / "rollouts.jsonl")]
    assert len(records) == len(ran) == 3
    # The model's own words reach the page whole.
    for rollout in ran:
        assert records[rollout.rollout_id]["memory"] == rollout.memory
        assert records[rollout.rollout_id]["solver_output"] == rollout.solver_output
