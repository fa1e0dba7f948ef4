"""ACE's structured playbook: memory-type sections of bullets `[id] helpful=X harmful=Y :: text`, a General
Guidelines section and an Others section, seeded from a static prompt; curator operations applied
deterministically; counters from the reflector's tags; a token budget; and the extractor's system prompt
rendered from it (the extractor replies in JSON and names the bullets it used)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

GENERAL = "gen"
OTHERS = "misc"
FIXED_SLUGS = {"factual memory": "fac", "experiential memory": "exp", "general guidelines": GENERAL,
               "others": OTHERS}
_SKIP_HEADINGS = {"role", "input", "input format", "output format", "output"}


class Bullet(BaseModel):
    id: str
    text: str
    helpful: int = 0
    harmful: int = 0

    def line(self) -> str:
        return f"[{self.id}] helpful={self.helpful} harmful={self.harmful} :: {self.text}"


class Section(BaseModel):
    title: str
    slug: str
    bullets: list[Bullet] = []


OpKind = Literal["ADD_MEMORY_TYPE", "DELETE_MEMORY_TYPE", "RENAME_MEMORY_TYPE", "ADD_BULLET", "UPDATE_BULLET",
                 "DELETE_BULLET"]


class CuratorOp(BaseModel):
    """One curator operation. `section` is a section slug (e.g. "fac", "gen"); ADD_MEMORY_TYPE takes `name`,
    an optional `section` slug and `guidelines`."""

    type: OpKind
    section: str = ""
    bullet_id: str = ""
    name: str = ""
    content: str = ""
    guidelines: list[str] = Field(default_factory=list)


def slug_for(title: str) -> str:
    clean = " ".join(title.lower().replace("&", "and").split())
    if clean in FIXED_SLUGS:
        return FIXED_SLUGS[clean]
    words = re.findall(r"[a-z0-9]+", clean) or ["type"]
    return words[0][:4] if len(words) == 1 else "".join(w[0] for w in words[:5])


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


class Playbook(BaseModel):
    prefix: str  # the seed prompt's role and input description, kept as the extractor's preamble
    sections: list[Section]
    counters: dict[str, int] = {}

    # -- building ----------------------------------------------------------------------------------------
    def new_id(self, slug: str) -> str:
        self.counters[slug] = self.counters.get(slug, 0) + 1
        return f"{slug}-{self.counters[slug]:05d}"

    def section(self, slug: str) -> Section | None:
        return next((s for s in self.sections if s.slug == slug.strip().lower()), None)

    def ensure(self, title: str, slug: str) -> Section:
        found = self.section(slug)
        if found is None:
            found = Section(title=title, slug=slug)
            at = next((i for i, s in enumerate(self.sections) if s.slug in (GENERAL, OTHERS)), len(self.sections))
            if slug in (GENERAL, OTHERS):
                at = len(self.sections) if slug == OTHERS else next(
                    (i for i, s in enumerate(self.sections) if s.slug == OTHERS), len(self.sections))
            self.sections.insert(at, found)
        return found

    def add(self, slug: str, text: str) -> Bullet | None:
        text = " ".join(text.split())
        section = self.section(slug)
        if section is None or not text or any(b.text == text for b in section.bullets):
            return None
        bullet = Bullet(id=self.new_id(slug), text=text)
        section.bullets.append(bullet)
        return bullet

    def find(self, bullet_id: str) -> tuple[Section, Bullet] | None:
        wanted = bullet_id.strip().strip("[]")
        for section in self.sections:
            for bullet in section.bullets:
                if bullet.id == wanted:
                    return section, bullet
        return None

    @property
    def bullets(self) -> list[Bullet]:
        return [b for s in self.sections for b in s.bullets]

    # -- views -------------------------------------------------------------------------------------------
    def listing(self) -> str:
        """The playbook as the reflector and curator see it: sections, ids, counters."""
        parts = []
        for s in self.sections:
            parts.append(f"## {s.title} (slug: {s.slug})")
            parts.extend(b.line() for b in s.bullets)
            parts.append("")
        return "\n".join(parts).strip()

    def lines_for(self, ids: Iterable[str]) -> str:
        found = [hit[1].line() for hit in (self.find(i) for i in ids) if hit is not None]
        return "\n".join(found) or "(the extractor named no playbook bullet)"

    def tokens(self) -> int:
        return estimate_tokens(self.listing())

    def stats(self) -> str:
        bullets = self.bullets
        helpful = sum(1 for b in bullets if b.helpful > 5 and b.harmful < 2)
        harmful = sum(1 for b in bullets if b.harmful >= b.helpful and b.harmful > 0)
        unused = sum(1 for b in bullets if b.helpful + b.harmful == 0)
        return (f"{len(bullets)} bullets in {len(self.sections)} sections; {helpful} high-performing, "
                f"{harmful} problematic, {unused} unused; about {self.tokens()} tokens")

    def render(self, reflection: str = "") -> str:
        """The extractor's system prompt: preamble, how to use the playbook, the playbook, a JSON reply."""
        parts = [self.prefix.strip(), "",
                 "## Instructions",
                 "- Read the playbook and apply the memory types and rules that fit this conversation.",
                 "- Keep only valuable, reusable memories; leave out details that matter only to this episode.",
                 "- List the ids of the playbook bullets you actually relied on.", "",
                 "## Playbook"]
        for s in self.sections:
            if s.slug == OTHERS and not s.bullets:
                continue
            parts.append(f"### {s.title}")
            parts.extend(f"- [{b.id}] {b.text}" for b in s.bullets)
            parts.append("")
        if reflection.strip():
            parts += ["## Reflection on the previous attempt",
                      "Use it as extra guidance; where it conflicts with the conversation, trust the conversation.",
                      reflection.strip(), ""]
        parts += ["## Output format",
                  'Reply with one JSON object and nothing else: {"reasoning": "<brief>", "bullet_ids": '
                  '["gen-00001"], "extracted_memory": "1. <memory>\\n2. <memory>"}']
        return "\n".join(parts) + "\n"

    # -- updates -----------------------------------------------------------------------------------------
    def tag(self, tags: Iterable[tuple[str, str]]) -> list[str]:
        done: list[str] = []
        for bullet_id, verdict in tags:
            hit = self.find(bullet_id)
            if hit is None or verdict not in ("helpful", "harmful"):
                continue
            bullet = hit[1]
            if verdict == "helpful":
                bullet.helpful += 1
            else:
                bullet.harmful += 1
            done.append(f"TAG {bullet.id} {verdict}")
        return done

    def apply(self, ops: Iterable[CuratorOp]) -> list[str]:
        """Apply in order; an operation that does not fit the playbook is skipped with a note."""
        return [self._apply_one(op) for op in ops]

    def _apply_one(self, op: CuratorOp) -> str:
        if op.type == "ADD_MEMORY_TYPE":
            name = " ".join(op.name.split())
            slug = (op.section.strip().lower() or slug_for(name))[:8]
            if not name or self.section(slug) is not None:
                return f"SKIP ADD_MEMORY_TYPE {name or '?'}: no name or slug {slug} taken"
            self.ensure(name, slug)
            added = [b for b in (self.add(slug, g) for g in [op.content, *op.guidelines]) if b is not None]
            return f"ADD_MEMORY_TYPE {name} ({slug}) with {len(added)} bullets"
        if op.type in ("DELETE_MEMORY_TYPE", "RENAME_MEMORY_TYPE"):
            section = self.section(op.section)
            if section is None or section.slug in (GENERAL, OTHERS):
                return f"SKIP {op.type} {op.section}: no such memory type"
            if op.type == "DELETE_MEMORY_TYPE":
                self.sections.remove(section)
                return f"DELETE_MEMORY_TYPE {section.slug}"
            if not op.name.strip():
                return f"SKIP RENAME_MEMORY_TYPE {section.slug}: no new name"
            section.title = " ".join(op.name.split())
            return f"RENAME_MEMORY_TYPE {section.slug} -> {section.title}"
        if op.type == "ADD_BULLET":
            slug = op.section.strip().lower() or GENERAL
            if self.section(slug) is None and slug in (GENERAL, OTHERS):
                self.ensure("General Guidelines" if slug == GENERAL else "Others", slug)
            bullet = self.add(slug, op.content)
            return f"ADD_BULLET {bullet.id}" if bullet else f"SKIP ADD_BULLET {slug}: unknown section or empty"
        hit = self.find(op.bullet_id)
        if hit is None:
            return f"SKIP {op.type} {op.bullet_id}: no such bullet"
        section, bullet = hit
        if op.type == "DELETE_BULLET":
            section.bullets.remove(bullet)
            return f"DELETE_BULLET {bullet.id}"
        text = " ".join(op.content.split())
        if not text:
            return f"SKIP UPDATE_BULLET {bullet.id}: empty text"
        bullet.text = text
        return f"UPDATE_BULLET {bullet.id}"

    def fit(self, budget_tokens: int) -> list[str]:
        """Enforce the token budget: drop the weakest bullets (net helpful - harmful, oldest first)."""
        dropped: list[str] = []
        while self.tokens() > budget_tokens and self.bullets:
            weakest = min(self.bullets, key=lambda b: (b.helpful - b.harmful, b.id))
            hit = self.find(weakest.id)
            assert hit is not None
            hit[0].bullets.remove(weakest)
            dropped.append(f"BUDGET drop {weakest.id}")
        return dropped


def _items(body: str) -> list[str]:
    """A section body as items: a line starting with "-", "*" or "1." opens an item; other lines continue it."""
    items: list[str] = []
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        if re.match(r"^([-*]|\d+[.)])\s+", line) or not items:
            items.append(re.sub(r"^([-*]|\d+[.)])\s+", "", line))
        else:
            items[-1] = f"{items[-1]} {line}"
    return items


def seed_playbook(seed_text: str) -> Playbook:
    """Turn a static extraction prompt into a playbook: its role and input sections become the preamble;
    each memory type listed under "Memory types" becomes a section (its description the first bullet);
    guideline items become General Guidelines bullets; other sections' items become bullets of their own."""
    from clue.evolve.synthesize import split_sections

    sections = split_sections(seed_text)
    prefix_parts = [sections[0].body.strip()] if sections[0].body.strip() else []
    book = Playbook(prefix="", sections=[])
    for section in sections[1:]:
        key = section.key
        if key in _SKIP_HEADINGS:
            if not key.startswith("output"):
                prefix_parts.append(f"{section.heading}\n{section.body.strip()}")
            continue
        if key in ("memory types", "memory taxonomy"):
            for item in _items(section.body):
                match = re.match(r"^\[?([^:\]]{1,40}?)\]?:\s*(.+)$", item)
                if match:
                    name = match.group(1).strip()
                    title = name if "memory" in name.lower() else f"{name} Memory"
                    book.ensure(title, slug_for(title))
                    book.add(slug_for(title), match.group(2))
            continue
        slug = GENERAL if key in ("guidelines", "general guidelines", "rules") else slug_for(key)
        book.ensure("General Guidelines" if slug == GENERAL else section.heading.lstrip("#").strip(), slug)
        for item in _items(section.body):
            book.add(slug, item)
    book.ensure("General Guidelines", GENERAL)
    book.ensure("Others", OTHERS)
    book.prefix = "\n\n".join(prefix_parts)
    return book
