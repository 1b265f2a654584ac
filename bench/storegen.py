"""Generate a synthetic archive, deterministically, by mutating corpus texts.

Each generated policy starts from the first corpus version of one corpus document and
then drifts: every new version applies one to three edits of the kinds the corpus shows
(sentence edits, cosmetic edits, sections inserted, moved or deleted). A policy's texts
and dates depend only on the seed and the policy's index, so a small store and a big
store share their first policies exactly, and a policy's first N versions are the same
whatever the store's size.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import corpus

# Bump when the generated texts or dates change: cached stores are keyed by it.
GENERATOR_VERSION = 1
DEFAULT_SEED = 20240601
START = datetime(2012, 1, 2, tzinfo=UTC)
INTERVAL = timedelta(days=30)
CURLY = str.maketrans({"'": "\u2019", '"': "\u201d"})
STRAIGHT = str.maketrans({"\u2019": "'", "\u201c": '"', "\u201d": '"'})
WORDS = (
    "personal data", "information", "we", "may", "process", "share", "partners", "service",
    "providers", "legitimate interests", "consent", "retain", "delete", "request", "rights",
    "cookies", "advertising", "analytics", "security", "law enforcement", "affiliates",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Spec:
    """The shape of a generated store."""

    policies: int
    versions: int  # per policy
    seed: int = DEFAULT_SEED

    @property
    def total(self) -> int:
        """Number of versions in the store."""
        return self.policies * self.versions

    @property
    def key(self) -> str:
        """Cache key: generator version, shape and seed."""
        return f"gen{GENERATOR_VERSION}-{self.policies}x{self.versions}-seed{self.seed}"


@dataclass(frozen=True, slots=True)
class GeneratedVersion:
    """One generated version of one policy."""

    policy: str
    number: int  # 1-based, per policy
    captured_at: datetime
    effective: date
    text: str


@dataclass(frozen=True, slots=True)
class PolicyPlan:
    """Which corpus document a generated policy starts from, and its id."""

    index: int
    policy: str
    base: corpus.CorpusVersion


def plan_policies(spec: Spec, root: Path | None = None) -> list[PolicyPlan]:
    """Return the generated policies: policy i starts from corpus document i mod 20."""
    documents = list(corpus.versions(root).values())
    plans = []
    for index in range(spec.policies):
        base = documents[index % len(documents)][0]
        plans.append(PolicyPlan(index, f"gen/p{index:04d}-{base.document}", base))
    return plans


def capture_times(spec: Spec, index: int) -> list[datetime]:
    """Return the capture times of policy ``index``: about monthly, with jitter, increasing."""
    rng = random.Random(f"{spec.seed}:times:{index}")
    return [
        START + k * INTERVAL + timedelta(seconds=rng.randrange(0, 20 * 86400) + index)
        for k in range(spec.versions)
    ]


def _split(text: str) -> list[str]:
    """Split a text into paragraphs (blocks separated by blank lines)."""
    return [block for block in text.split("\n\n") if block.strip()]


def _is_heading(paragraph: str) -> bool:
    return paragraph.startswith("#")


def donor_sections(root: Path | None = None) -> list[list[str]]:
    """Return short sections (heading + 1-6 paragraphs) of the corpus, to insert elsewhere."""
    found = []
    for history in corpus.versions(root).values():
        paragraphs = _split(history[-1].path.read_text(encoding="utf-8"))
        starts = [i for i, p in enumerate(paragraphs) if _is_heading(p)]
        for begin, end in zip(starts, [*starts[1:], len(paragraphs)], strict=False):
            section = paragraphs[begin:end]
            if 2 <= len(section) <= 7 and sum(map(len, section)) < 4000:
                found.append(section)
    return found


class PolicyDrift:
    """The evolving text of one generated policy."""

    def __init__(self, spec: Spec, plan: PolicyPlan, donors: list[list[str]]) -> None:
        self.rng = random.Random(f"{spec.seed}:text:{plan.index}")
        self.paragraphs = _split(plan.base.path.read_text(encoding="utf-8"))
        self.ceiling = len(self.paragraphs) * 13 // 10
        self.donors = donors
        self.started = False

    def next_text(self) -> str:
        """Return the next version's text (the base text itself the first time)."""
        if self.started:
            edits = (
                self.edit_sentence,
                self.edit_sentence,
                self.edit_sentence,
                self.edit_cosmetic,
                self.insert_section,
                self.move_section,
            )
            for _ in range(self.rng.randint(1, 3)):
                self.rng.choice(edits)()
        self.started = True
        return "\n\n".join(self.paragraphs)

    def _body_index(self) -> int:
        """Return the index of a random paragraph that is not a heading."""
        for _ in range(20):
            index = self.rng.randrange(len(self.paragraphs))
            if not _is_heading(self.paragraphs[index]):
                return index
        return index

    def _section_starts(self) -> list[int]:
        """Return where sections start (heading indexes; every paragraph if none)."""
        starts = [i for i, p in enumerate(self.paragraphs) if _is_heading(p)]
        return starts or list(range(len(self.paragraphs)))

    def edit_sentence(self) -> None:
        """Replace a word, append a sentence or drop a sentence in one paragraph."""
        index = self._body_index()
        paragraph = self.paragraphs[index]
        roll = self.rng.random()
        words = paragraph.split(" ")
        if roll < 0.5 and len(words) > 3:
            words[self.rng.randrange(len(words))] = self.rng.choice(WORDS)
            paragraph = " ".join(words)
        elif roll < 0.8 or ". " not in paragraph:
            donor = self.rng.choice(self.rng.choice(self.donors)[1:])
            paragraph = f"{paragraph} {donor.split('. ')[0].strip()}."
        else:
            paragraph = paragraph.rsplit(". ", 1)[0] + "."
        self.paragraphs[index] = paragraph

    def edit_cosmetic(self) -> None:
        """Change quotes, spacing or line wrapping of one paragraph, not its words."""
        index = self._body_index()
        paragraph = self.paragraphs[index]
        roll = self.rng.random()
        if roll < 0.4:
            table = STRAIGHT if "\u2019" in paragraph else CURLY
            paragraph = paragraph.translate(table)
        elif roll < 0.7 and " " in paragraph:
            # Re-wrap: turn the first space after the middle into a line break.
            cut = paragraph.find(" ", len(paragraph) // 2)
            cut = cut if cut >= 0 else paragraph.find(" ")
            paragraph = paragraph[:cut] + "\n" + paragraph[cut + 1 :]
        else:
            paragraph = paragraph.replace("  ", " ") if "  " in paragraph else paragraph + " "
        self.paragraphs[index] = paragraph

    def insert_section(self) -> None:
        """Insert a section from another document (or delete one when the text has grown)."""
        starts = self._section_starts()
        if len(self.paragraphs) > self.ceiling and len(starts) > 2:
            at = self.rng.randrange(1, len(starts) - 1)
            del self.paragraphs[starts[at] : starts[at + 1]]
            return
        at = self.rng.choice(starts)
        self.paragraphs[at:at] = self.rng.choice(self.donors)

    def move_section(self) -> None:
        """Move one section before another."""
        starts = self._section_starts()
        if len(starts) < 3:
            return
        pick = self.rng.randrange(len(starts) - 1)
        block = self.paragraphs[starts[pick] : starts[pick + 1]]
        del self.paragraphs[starts[pick] : starts[pick + 1]]
        rest = self._section_starts()
        at = self.rng.choice(rest)
        self.paragraphs[at:at] = block


def policy_history(spec: Spec, plan: PolicyPlan, donors: list[list[str]]) -> list[GeneratedVersion]:
    """Return all versions of one generated policy, oldest first."""
    drift = PolicyDrift(spec, plan, donors)
    return [
        _version(plan, number, moment, drift.next_text())
        for number, moment in enumerate(capture_times(spec, plan.index), start=1)
    ]


def _version(plan: PolicyPlan, number: int, moment: datetime, text: str) -> GeneratedVersion:
    # Policies often take effect a few days before the capture notices them.
    effective = (moment - timedelta(days=(number * 7 + plan.index) % 10)).date()
    return GeneratedVersion(plan.policy, number, moment, effective, text)


def generate(spec: Spec, root: Path | None = None) -> Iterator[GeneratedVersion]:
    """Yield every version of the store in capture order, computing texts as needed."""
    plans = plan_policies(spec, root)
    donors = donor_sections(root)
    drifts = [PolicyDrift(spec, plan, donors) for plan in plans]
    events = sorted(
        (moment, plan.index, number)
        for plan in plans
        for number, moment in enumerate(capture_times(spec, plan.index), start=1)
    )
    for moment, index, number in events:
        yield _version(plans[index], number, moment, drifts[index].next_text())


def batches(spec: Spec, size: int, root: Path | None = None) -> Iterator[list[GeneratedVersion]]:
    """Yield the versions of ``generate`` in lists of at most ``size``."""
    batch: list[GeneratedVersion] = []
    for version in generate(spec, root):
        batch.append(version)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
