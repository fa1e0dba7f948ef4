"""How fast the FEVER page source indexes and answers, on a synthetic dump of N pages (no data needed).

Prints index build pages/second, then the mean milliseconds of a title look-up, a similar-title search and
a whole FEVER step (Search of a missing title, which runs both). The FEVER shared task's dump has about
5.4 million pages: scale the build time from the first number.

    .venv/bin/python perf/fever_pages.py [--pages 50000] [--queries 500]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

from clue.bench.envs import fever
from clue.bench.envs.fever_pages import WikiPages, ensure_index

WORDS = [f"w{i}" for i in range(20000)]


def write_dump(directory: Path, pages: int, rng: random.Random) -> list[str]:
    directory.mkdir(parents=True)
    titles: list[str] = []
    per_file = 10000
    for start in range(0, pages, per_file):
        with (directory / f"wiki-{start // per_file:03d}.jsonl").open("w", encoding="utf-8") as handle:
            for number in range(start, min(start + per_file, pages)):
                title = " ".join(rng.choices(WORDS, k=3)) + f" {number}"
                lead = " ".join(rng.choices(WORDS, k=60))
                rest = "\n\n".join(" ".join(rng.choices(WORDS, k=40)) for _ in range(3))
                handle.write(json.dumps({"title": title, "text": f"{lead}\n\n{rest}"}) + "\n")
                titles.append(title)
    return titles


def mean_ms(action: object, queries: list[str]) -> float:
    started = time.perf_counter()
    for query in queries:
        action(query)  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000 / len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=50000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["CLUE_CACHE_DIR"] = str(Path(scratch) / "cache")
        env_root = Path(scratch) / "agentic"
        titles = write_dump(env_root / "fever" / "wiki-pages", args.pages, rng)
        started, cpu = time.perf_counter(), time.process_time()
        index = ensure_index(env_root)
        build, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"index build: {args.pages / build:,.0f} pages/s ({build:.1f} s wall, {cpu:.1f} s CPU for "
              f"{args.pages:,} pages, {index.stat().st_size / 2**20:.0f} MiB)")
        pages = WikiPages(index)
        known = rng.sample(titles, min(args.queries, len(titles)))
        unknown = [" ".join(rng.choices(WORDS, k=2)) for _ in range(args.queries)]
        print(f"title look-up: {mean_ms(pages.page, known):.3f} ms")
        print(f"similar titles: {mean_ms(pages.similar, unknown):.3f} ms")
        pages.close()
        env = fever.make(env_root)
        env.reset({"id": 0, "task": "x", "answer": "SUPPORTS"})
        print(f"fever step (missing title): {mean_ms(lambda q: env.step(f'Search[{q}]'), unknown):.3f} ms")
        env.close()


if __name__ == "__main__":
    main()
