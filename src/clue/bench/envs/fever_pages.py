"""The offline Wikipedia page source behind the FEVER environment's Search and Lookup.

The user provides `<env root>/fever/wiki-pages/`: JSON-lines files (`*.jsonl`), one page per line, either
`{"title": "...", "text": "..."}` or the FEVER shared task's own dump format `{"id": "Page_Title", "text":
"...", "lines": "..."}` (its `-LRB-`-style escapes are undone). Pages with no text are left out. A page's
text is plain text whose paragraphs are separated by a blank line, as Wikipedia's plain-text extracts are:
Search shows the first paragraph, Lookup searches paragraphs.

The directory is indexed once into SQLite (`$CLUE_CACHE_DIR/fever/`, else `~/.cache/clue/fever/`); the
index is rebuilt when a file in the directory changes. Title look-up follows MediaWiki: the exact title,
then the title with its first letter upper-cased and underscores as spaces, then a case-insensitive match
when exactly one page has it. "Similar" titles come from full-text search over titles and each page's
first paragraph, titles weighted ten times: the offline stand-in for Wikipedia's search.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from clue.bench.envs.base import EnvironmentUnavailable

PAGES_SUBDIR = Path("fever") / "wiki-pages"
SIMILAR_LIMIT = 10  # the `wikipedia` package's search returns ten titles
_INDEX_VERSION = "1"
_FEVER_ESCAPES = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}",
                  "-COLON-": ":"}
_ESCAPE = re.compile("|".join(re.escape(token) for token in _FEVER_ESCAPES))
_WORD = re.compile(r"\w+", re.UNICODE)


def pages_dir(env_root: Path) -> Path:
    return env_root / PAGES_SUBDIR


def page_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.glob("*.jsonl") if path.is_file())


def missing_pages(env_root: Path) -> str | None:
    """One line saying what to provide, or None when a page source is there."""
    directory = pages_dir(env_root)
    if directory.is_dir() and page_files(directory):
        return None
    where = "is empty" if directory.is_dir() else "does not exist"
    return (f"fever needs a Wikipedia page source: {directory} {where}; put JSON-lines files (*.jsonl) of "
            '{"title": ..., "text": ...} pages there, e.g. the FEVER wiki-pages dump (see docs/agentic.md)')


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda match: _FEVER_ESCAPES[match.group(0)], text)


def _page_of(record: object) -> tuple[str, str] | None:
    """(title, text) of one JSON line in either accepted format; None when it is neither."""
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return None
    if isinstance(record.get("title"), str):
        return record["title"].strip(), record["text"]
    if isinstance(record.get("id"), str):  # FEVER dump: "Colin_Kaepernick", text with -LRB- escapes
        return _unescape(record["id"]).replace("_", " ").strip(), _unescape(record["text"])
    return None


def _read_pages(files: list[Path]) -> Iterator[tuple[str, str]]:
    for path in files:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    page = _page_of(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise EnvironmentUnavailable(f"{path}:{number}: not valid JSON ({exc.msg})") from None
                if page is None:
                    raise EnvironmentUnavailable(f'{path}:{number}: expected {{"title", "text"}} or '
                                                 '{"id", "text"} strings')
                if page[0] and page[1].strip():  # the FEVER dump has some pages with no text
                    yield page


def first_paragraph(text: str) -> str:
    return text.split("\n\n")[0]


def _index_key(files: list[Path]) -> str:
    digest = hashlib.sha256(_INDEX_VERSION.encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def index_dir() -> Path:
    root = os.environ.get("CLUE_CACHE_DIR") or "~/.cache/clue"
    return Path(root).expanduser() / "fever"


def build_index(files: list[Path], target: Path) -> None:
    """Write the SQLite index of `files` to `target` (atomically: a half-built index is never seen)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".building")
    os.close(handle)
    try:
        connection = sqlite3.connect(temporary)
        connection.execute("PRAGMA journal_mode = OFF")  # a scratch file until the rename: nothing to recover
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -200000")
        with connection:
            connection.execute("CREATE TABLE pages (title TEXT PRIMARY KEY, text TEXT NOT NULL)")
            connection.execute("CREATE VIRTUAL TABLE pages_fts USING fts5(title, lead, content='')")
            for title, text in _read_pages(files):
                cursor = connection.execute("INSERT OR IGNORE INTO pages (title, text) VALUES (?, ?)",
                                            (title, text))
                if cursor.rowcount:
                    connection.execute("INSERT INTO pages_fts (rowid, title, lead) VALUES (?, ?, ?)",
                                       (cursor.lastrowid, title, first_paragraph(text)))
            connection.execute("CREATE INDEX pages_title_nocase ON pages (title COLLATE NOCASE)")
        connection.close()
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def ensure_index(env_root: Path) -> Path:
    """The index of the env root's page source, built if missing or stale."""
    reason = missing_pages(env_root)
    if reason is not None:
        raise EnvironmentUnavailable(reason)
    files = page_files(pages_dir(env_root))
    target = index_dir() / f"pages-{_index_key(files)}.sqlite"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # environments started together build the index once
        if not target.is_file():
            build_index(files, target)
    return target


class WikiPages:
    """Read-only title look-up and similar-title search over one index (one connection per environment)."""

    def __init__(self, index: Path) -> None:
        self._db = sqlite3.connect(f"file:{index}?mode=ro", uri=True, check_same_thread=False)

    def page(self, query: str) -> str | None:
        """The text of the page `query` names, or None."""
        wanted = query.strip()
        candidates = [wanted]
        mediawiki = wanted.replace("_", " ")
        if mediawiki:
            candidates.append(mediawiki[0].upper() + mediawiki[1:])
        for title in candidates:
            row = self._db.execute("SELECT text FROM pages WHERE title = ?", (title,)).fetchone()
            if row is not None:
                return str(row[0])
        rows = self._db.execute("SELECT text FROM pages WHERE title = ? COLLATE NOCASE LIMIT 2",
                                (mediawiki,)).fetchall()
        return str(rows[0][0]) if len(rows) == 1 else None

    def similar(self, query: str, limit: int = SIMILAR_LIMIT) -> list[str]:
        words = _WORD.findall(query)
        if not words:
            return []
        match = " OR ".join('"' + word.replace('"', '""') + '"' for word in words)
        rows = self._db.execute(
            "SELECT pages.title FROM pages_fts JOIN pages ON pages.rowid = pages_fts.rowid "
            "WHERE pages_fts MATCH ? ORDER BY bm25(pages_fts, 10.0, 1.0), pages.rowid LIMIT ?",
            (match, limit)).fetchall()
        return [str(row[0]) for row in rows]

    def close(self) -> None:
        self._db.close()
