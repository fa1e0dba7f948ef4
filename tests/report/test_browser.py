"""The report opened in a real browser (Debian's headless Chromium): it loads with no console error and no
network request, every section renders, and transcripts open on click. A screenshot of each section is saved
under tmp/artifacts/report/ (or $CLUE_ARTIFACTS/report/) for people to look at."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import quote

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from clue.report.html import write_report
from clue.report.lineage_view import count_nodes, lineage_tree
from clue.report.rundata import load_runs

from .chromium import Page, open_page
from .conftest import Study

SECTIONS = ("overview", "results", "evolution", "lineage", "clusters", "transcripts", "cost")


def artifacts_dir() -> Path:
    root = Path(os.environ.get("CLUE_ARTIFACTS") or Path(__file__).resolve().parents[2] / "tmp" / "artifacts")
    path = root / "report"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shot(page: Page, element: WebElement, name: str) -> None:
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", element)
    element.screenshot(str(artifacts_dir() / f"{name}.png"))


def click(page: Page, element: WebElement) -> None:
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def opened_record(page: Page) -> WebElement:
    def find(driver: object) -> WebElement | bool:
        found = page.driver.find_elements(By.CSS_SELECTOR, "#transcript-view .record")
        return found[0] if found else False

    record: WebElement = WebDriverWait(page.driver, 10).until(find)
    return record


def test_report_in_headless_chromium(study: Study, tmp_path: Path) -> None:
    out = write_report(study.all, tmp_path / "report.html", baseline_dir=study.keep_numbers).path
    runs = load_runs(study.all)
    with open_page(out) as page:
        driver = page.driver
        WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.documentElement.dataset.ready"))
        assert page.errors() == []

        # Every plot drew its marks: axes, lines or cells are SVG paths with a real size on screen.
        figures = driver.find_elements(By.CSS_SELECTOR, "figure.plot")
        plots = {f.get_attribute("data-plot"): f for f in figures}
        assert set(plots) == {"heatmap", "ci", "progress-rollouts", "progress-tokens", "cost", "rounds"}
        # One per-round chart per evolution with tournament scores (CluE's; GEPA's log has no tournament).
        assert [f.get_attribute("data-plot") for f in figures].count("rounds") == 1
        for name, figure in [(f.get_attribute("data-plot"), f) for f in figures]:
            svg = figure.find_element(By.TAG_NAME, "svg")
            assert svg.size["width"] > 200 and svg.size["height"] > 100, name
            assert len(svg.find_elements(By.CSS_SELECTOR, "path")) > 5, f"plot {name} drew nothing"
        # Overview: a row per run; Evolution: a round table per evolution; Cost: a role table per run.
        assert len(driver.find_elements(By.CSS_SELECTOR, "#overview tbody tr")) == len(runs)
        rounds = driver.find_elements(By.CSS_SELECTOR, "#evolution table.rounds")
        assert len(rounds) == sum(1 for r in runs if r.kind == "evolve") and all(t.is_displayed() for t in rounds)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#cost table.grid")) >= len(runs)
        # Results: the comparison table and one detail table per result set.
        assert len(driver.find_elements(By.CSS_SELECTOR, "#comparison-table tbody tr")) == 5
        assert len(driver.find_elements(By.CSS_SELECTOR, "#comparison-table td.best")) >= 5

        # Lineage: every candidate of every evolution is a node, and a node opens onto its diff.
        expected_nodes = sum(count_nodes(lineage_tree(r)) for r in runs if r.kind == "evolve")
        nodes = driver.find_elements(By.CSS_SELECTOR, "#lineage details.lineage-node")
        assert len(nodes) == expected_nodes
        winner = next(n for n in nodes if n.get_attribute("data-status") == "winner")
        click(page, winner.find_element(By.TAG_NAME, "summary"))
        assert winner.find_element(By.CSS_SELECTOR, "pre.diff .d-add").is_displayed()

        # Clusters: cards with members and recommendations.
        clusters = driver.find_elements(By.CSS_SELECTOR, "#clusters article.cluster")
        assert clusters and all(c.find_elements(By.CSS_SELECTOR, "ol li") for c in clusters)

        # Transcripts: filter to the episode run, open one, and see source, memory, steps, code and score.
        rows = driver.find_elements(By.CSS_SELECTOR, "#transcript-table tbody tr")
        total = sum(len(r.rollouts) + len(r.test_rollouts) for r in runs)
        assert len(rows) == min(50, total)
        Select(driver.find_element(By.CSS_SELECTOR, '[data-filter="dataset"]')).select_by_visible_text("rooms")
        assert driver.find_element(By.ID, "transcript-count").text == f"4 of {total} rollouts match"
        click(page, driver.find_element(By.CSS_SELECTOR, "#transcript-table tbody tr"))
        record = opened_record(page)
        text = record.text
        for expected in ("Source (as the extractor read it)", "Memory", "environment reset", "step 1 · reward 1",
                         "code run · exit 0", "timed out", "scorer: reward", "solver call"):
            assert expected in text, expected
        assert "characters cut in this report" in driver.execute_script(
            "return document.getElementById('transcript-view').textContent")
        shot(page, driver.find_element(By.ID, "transcripts"), "transcript-open")

        # A cluster member opens its transcript: the base prompt's rollout of that pair.
        Select(driver.find_element(By.CSS_SELECTOR, '[data-filter="dataset"]')).select_by_visible_text("all")
        member = driver.find_element(By.CSS_SELECTOR, "#clusters a.member[data-open]")
        key = member.get_attribute("data-open")
        click(page, member)
        WebDriverWait(driver, 10).until(
            lambda d: d.find_element(By.ID, "transcript-view").get_attribute("data-open") == key)
        assert opened_record(page).get_attribute("data-rollout") in (key or "")

        # Opening a transcript puts it in the address; that link opens it again on a fresh load.
        assert driver.current_url.endswith("#rollout=" + quote(key or "", safe=""))
        driver.refresh()
        WebDriverWait(driver, 10).until(
            lambda d: d.find_element(By.ID, "transcript-view").get_attribute("data-open") == key)

        for section in SECTIONS:
            shot(page, driver.find_element(By.ID, section), section)
        time.sleep(0.2)  # let late console messages arrive
        assert page.errors() == []
        assert page.foreign_requests() == []

        # The checks themselves work: a script error and an outside request on another page are both seen.
        bad = tmp_path / "bad.html"
        bad.write_text("<html><body><img src='http://127.0.0.1:9/x.png'><script>undefinedCall()</script>"
                       "</body></html>")
        page.goto(bad)
        time.sleep(0.5)
        assert any("undefinedCall" in e for e in page.errors())
        assert "http://127.0.0.1:9/x.png" in page.foreign_requests()

