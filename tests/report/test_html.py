"""`clue report` on the study: one self-contained file whose numbers and data match the run dirs."""

from __future__ import annotations

import base64
import gzip
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.lineage import read_lineage
from typer.testing import CliRunner

from clue.bench.run.record import read_runlog, write_runlog
from clue.bench.run.results import with_gain
from clue.bench.run.rollouts import read_rollouts
from clue.cli import app
from clue.memory.prompts import load_prompt
from clue.report.html import write_report
from clue.report.rundata import load_run, load_runs
from clue.report.transcripts import pack_transcripts

from .conftest import LONG_OBSERVATION, Study


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of <script> elements by id."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: dict[str, str] = {}
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs).get("id") or f"inline-{len(self.scripts)}"
            self.scripts[self._script] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self.scripts[self._script] += data


@pytest.fixture(scope="module")
def report(study: Study, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Elements]:
    out = tmp_path_factory.mktemp("report") / "report.html"
    write_report(study.all, out, baseline_dir=study.keep_numbers)
    html = out.read_text(encoding="utf-8")
    parsed = Elements()
    parsed.feed(html)
    return out, html, parsed


def test_the_report_is_one_file_that_references_nothing_outside_itself(report: tuple[Path, str, Elements]) -> None:
    _, html, parsed = report
    for tag, attrs in parsed.tags:
        for name in ("src", "href", "xlink:href", "action", "poster", "data"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("#", "data:")), f"<{tag} {name}={value!r}> points outside the file"
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
    assert "@import" not in html and not re.search(r"url\((?!#|data:)", html)
    # The policy forbids any fetch the page could still attempt.
    assert "default-src 'none'" in html
    assert all(tag != "img" for tag, _ in parsed.tags), "plots are inline SVG, not images"
    assert html.count("<svg") >= 5  # confidence intervals, heat map, two progress curves, cost


def test_names_from_run_dirs_cannot_inject_markup(study: Study, tmp_path: Path) -> None:
    hostile = "</script><script>bad()</script><b>x"
    run = tmp_path / "hostile"
    shutil.copytree(study.episode, run)
    log = read_runlog(run)
    log.spec.prompt_name = hostile
    write_runlog(run, log)
    lines = (run / "rollouts.jsonl").read_text().splitlines()
    (run / "rollouts.jsonl").write_text("\n".join(line.replace('"rooms"', json.dumps(hostile)) for line in lines))
    html = write_report([run, study.simple], tmp_path / "r.html").path.read_text(encoding="utf-8")
    assert hostile not in html and "<script>bad()" not in html
    assert html.count("<script") == 3  # the two data blocks and the page's own script
    assert "&lt;/script&gt;&lt;script&gt;bad()" in html  # shown as text


def test_comparison_marks_the_best_of_each_column_and_takes_gain_over_the_baseline(
        study: Study, report: tuple[Path, str, Elements]) -> None:
    _, html, _ = report
    table = html[html.index('id="comparison-table"'):]
    head, body = table[:table.index("<tbody>")], table[table.index("<tbody>"):table.index("</table>")]
    headers = re.findall(r'<th class="c-\w+">(.*?)</th>', head)
    # Datasets (ID by category, then OOD), category macros over ID sets, ID and OOD macros, gain.
    assert headers == ["rooms", "toyalpha", "toybeta (OOD)", "agentic macro", "personalization macro", "ID macro",
                       "OOD macro", "relative gain"]
    rows = re.findall(r"<tr><th>(.*?)</th>(.*?)</tr>", body, flags=re.S)
    cells = {label: [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)] for label, row in rows}
    assert list(cells) == ["simple", "keep-numbers", "clue: simple", "clue: clue-r1-c3", "factual-experiential"]
    # The evolved prompt keeps both kinds of fact: best on every column it shares, twice the baseline's score.
    evolved = next(r for r in load_run(study.evolve).results if r.prompt_name == "clue-r1-c3")
    (baseline,) = load_run(study.keep_numbers).results
    gained = with_gain(evolved, baseline)
    assert gained.relative_gain == pytest.approx(1.0) and gained.gain_datasets == ["toyalpha", "toybeta"]
    assert cells["clue: clue-r1-c3"] == ["–", "100.0 ★", "100.0 ★", "–", "100.0 ★", "100.0 ★", "100.0 ★",
                                         "+100.0% ★"]
    assert cells["keep-numbers"] == ["–", "50.0", "50.0", "–", "50.0", "50.0", "50.0", "+0.0%"]
    # simple scores 0 everywhere: no finite ratio, so no gain rather than a made-up one; a lone value is no "best".
    assert cells["simple"][-1] == "–" and cells["factual-experiential"][0] == "50.0"


def test_transcripts_are_packed_whole_and_decode_back_to_the_rollouts(study: Study) -> None:
    runs = load_runs(study.all)
    packed = pack_transcripts(runs, max_chars=5_000, chunk_size=7)
    total = sum(len(r.rollouts) + len(r.test_rollouts) for r in runs)
    assert len(packed.index) == total and len({row[0] for row in packed.index}) == total
    chunks = [json.loads(gzip.decompress(base64.b64decode(c))) for c in packed.chunks]
    assert all(len(c["records"]) <= 7 for c in chunks)

    def resolve(value: object, texts: list[str]) -> object:
        if isinstance(value, dict):
            if set(value) == {"$t"}:
                return texts[value["$t"]]
            return {k: resolve(v, texts) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v, texts) for v in value]
        return value

    episode = read_rollouts(study.episode / "rollouts.jsonl")
    by_id = {r.rollout_id: r for r in episode}
    found = 0
    for row in packed.index:
        record = resolve(chunks[row[10]]["records"][row[11]], chunks[row[10]]["texts"])
        assert isinstance(record, dict) and record["rollout_id"] in row[0]
        if record["run"] == "factual-experiential":
            found += 1
            original = by_id[record["rollout_id"]]
            assert record["memory"] == original.memory and record["reward"] == original.reward
            kinds = [e["kind"] for e in record["events"]]
            assert kinds == [e.kind for e in original.events]
            reset = record["events"][2]["observation"]
            if LONG_OBSERVATION in original.events[2].observation:  # type: ignore[union-attr]
                assert len(reset) < 5_300 and "characters cut in this report" in reset
                assert str(study.episode / "rollouts.jsonl") in reset
            else:
                assert reset == original.events[2].observation  # type: ignore[union-attr]
    assert found == len(episode)
    # Long texts are stored once per chunk: the extraction prompt is shared by every rollout of a chunk.
    prompt_text = load_prompt("factual-experiential").text
    prompt_copies = [t for c in chunks for t in c["texts"] if t == prompt_text]
    assert 1 <= len(prompt_copies) < len(episode)


def test_lineage_and_clusters_in_the_page_match_lineage_json(study: Study, report: tuple[Path, str, Elements]) -> None:
    _, _, parsed = report
    lineage = read_lineage(study.evolve)
    nodes = [a for t, a in parsed.tags if t == "details" and "lineage-node" in (a.get("class") or "")]
    candidates = sum(1 for e in lineage.entries if e.origin.round is not None)
    assert candidates and len(nodes) == 1 + candidates + 3  # CluE: seed + candidates; GEPA: its three entries
    clusters = [a for t, a in parsed.tags if t == "article" and (a.get("id") or "").startswith("cluster-")]
    assert len(clusters) == sum(len(r.clusters) for r in lineage.rounds)
    members = [a for t, a in parsed.tags if t == "a" and "member" in (a.get("class") or "")]
    assert len(members) == sum(len(c.members) for r in lineage.rounds for c in r.clusters)
    assert all(a.get("data-open") for a in members), "every member links to its transcript"


def test_report_command_writes_the_file_and_names_bad_run_dirs(study: Study, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", str(study.evolve), "--out", str(out), "--baseline", str(study.simple)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output.replace("\n", "")
    # A baseline that is not among the runs is shown with them, named as the baseline.
    table = out.read_text(encoding="utf-8").split('id="comparison-table"')[1].split("</table>")[0]
    assert re.findall(r"<tr><th>(.*?)</th>", table)[1:] == ["simple (baseline)", "clue: simple", "clue: clue-r1-c3"]

    titled = tmp_path / "titled.html"
    result = CliRunner().invoke(app, ["report", str(study.episode), "--out", str(titled), "--title", "Rooms study",
                                      "--max-text-chars", "1000"])
    assert result.exit_code == 0, result.output
    assert "<title>Rooms study</title>" in titled.read_text(encoding="utf-8")
    assert "Texts longer than 1,000 characters are cut" in titled.read_text(encoding="utf-8")
    small = CliRunner().invoke(app, ["report", str(study.episode), "--out", str(titled), "--max-text-chars", "50"])
    assert small.exit_code == 2 and "--max-text-chars 50" in small.output

    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nope"), "--out", str(out)])
    assert missing.exit_code == 3 and "nope: no such run directory" in missing.output

    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["report", str(empty), "--out", str(out)])
    assert result.exit_code == 3 and "not a clue run directory" in result.output

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "log.json").write_text(json.dumps({"version": 99}))
    result = CliRunner().invoke(app, ["report", str(broken), "--out", str(out)])
    assert result.exit_code == 2 and "run log version 99" in result.output
