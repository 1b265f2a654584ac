"""Whether a capture still looks like the policy, or like an error page or something else.

A scraper meets error pages, consent walls, login screens and truncated pages, and an
archive that records them as versions announces "21 sections removed" for a page that
never changed. Each check compares a new text with the last plausible version before it;
a capture that fails one is *suspect*: recorded with its reasons (``Suspect`` trailer)
by ``import``, refused by the commands that fetch (unless accepted), and never announced
as a policy change. Pure: texts in, reasons out.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from policydiff.engine.compare import find_effective_date, sections_of

if TYPE_CHECKING:
    from policydiff.store.gitstore import GitStore

# A text under this share of its predecessor's length is suspect (a truncated page, an
# error page where a policy was).
SHRINK_SHARE = 0.2
# A text over this many times its predecessor's length took in more than the policy (a
# whole help centre around it).
GROWTH_FACTOR = 5
# Shrinking and collapsing are judged only against a predecessor at least this long, or
# with at least this many sections: small policies legitimately change a lot.
SHRINK_MIN_CHARS = 1000
COLLAPSE_MIN_SECTIONS = 5
# A title that reads like one of these, on a text this short, is an error, consent or
# login page, not a policy.
ERROR_PAGE_MAX_CHARS = 5000
_ERROR_TITLE = re.compile(
    r"\b(?:40[0-9]|50[0-9]|not\s+found|page\s+not\s+(?:found|available)|error|"
    r"access\s+denied|forbidden|unavailable|something\s+went\s+wrong|mixed\s+up|"
    r"try\s+again|sign\s+in|log\s*in|captcha|are\s+you\s+a\s+robot|verify\s+you\s+are|"
    r"just\s+a\s+moment|enable\s+javascript|cookie\s+(?:consent|settings|preferences)|"
    r"we\s+use\s+cookies|maintenance)\b",
    re.IGNORECASE,
)
# A title naming what a policy is ("Error reporting policy") is a policy, whatever else it says.
_POLICY_TITLE = re.compile(
    r"\b(?:polic(?:y|ies)|privacy|terms|conditions|notice|agreement|statement|charter|"
    r"rules|guidelines|datenschutz\w*|nutzungsbedingungen|confidentialit\w*|conditions)\b",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"[#*_`\[\]\\]+|\(#[^)]*\)|=+$|-+$")


SUSPECT_TRAILER = "Suspect"


def last_good_text(store: GitStore, policy: str, before: datetime) -> str | None:
    """Return the text of the policy's last non-suspect version captured before ``before``."""
    if policy not in store.policies():
        return None
    good = [v for v in store.versions(policy) if v.captured_at < before and not v.suspect]
    return store.text(good[-1]) if good else None


def page_title(text: str) -> str:
    """Return the first heading of a text, else its first non-empty line, without markup."""
    for section in sections_of(text):
        if section.title:
            return " ".join(_MARKUP.sub(" ", section.title).split())
    for line in text.splitlines():
        plain = " ".join(_MARKUP.sub(" ", line).split())
        if plain:
            return plain
    return ""


# Remembered: import judges a run of texts against the same last plausible one.
@lru_cache(maxsize=4)
def _states_a_date(text: str) -> bool:
    """Whether ``text`` states an effective date."""
    return bool(find_effective_date(text))


def suspect_reasons(previous: str | None, text: str) -> tuple[str, ...]:
    """Return why ``text`` does not look like the policy ``previous`` was (empty if it does)."""
    reasons: list[str] = []
    # Every check is cheap unless a first sign is there: import runs this on every file.
    if len(text) <= ERROR_PAGE_MAX_CHARS:
        title = page_title(text)
        if _ERROR_TITLE.search(title) and not _POLICY_TITLE.search(title):
            reasons.append(f"the title looks like an error, consent or login page: {title[:80]!r}")
    if previous is None:
        return tuple(reasons)
    if len(previous) >= SHRINK_MIN_CHARS and len(text) < SHRINK_SHARE * len(previous):
        share = round(100 * (1 - len(text) / len(previous)))
        reasons.append(f"the text shrank by {share}% ({len(previous)} to {len(text)} characters)")
    if len(previous) >= SHRINK_MIN_CHARS and len(text) > GROWTH_FACTOR * len(previous):
        reasons.append(
            f"the text grew {len(text) / len(previous):.1f} times ({len(previous)} to "
            f"{len(text)} characters): the capture may hold more than the policy"
        )
    # Headings lost with the text still there is a change of markup, not a broken page.
    if len(text) * 2 < len(previous):
        before, after = len(sections_of(previous)), len(sections_of(text))
        if before >= COLLAPSE_MIN_SECTIONS and after * 5 <= before:
            reasons.append(f"the sections collapsed from {before} to {after}")
    if reasons and _states_a_date(previous) and not find_effective_date(text):
        # Alone, a dropped date is an ordinary edit; beside another sign it confirms it.
        reasons.append("the effective date disappeared")
    return tuple(reasons)
