"""The "in force on a date" rule: which recorded version an auditor may cite for a day.

A version has two dates: when it was first *captured* (seen by someone) and the
*effective* date it states ("Valid from 8 February 2016"). Services often edit a policy
without changing its stated date, so a version captured months later can claim an
effective date long before anyone saw its text. The rule therefore uses both:

1. A version is *known* on day D when it was captured on or before D and its start (its
   effective date, or its capture day when it states none) is on or before D. The answer
   is the newest known version (in capture order).
2. When no version is known on D but a later capture states it was in force by D (a
   backfill from its effective date), that version is the answer, flagged: it is in
   force from its effective date, but nobody had recorded its text yet.
3. When a version captured after D states a start after the answer was captured and on
   or before D, the answer is flagged too: nothing observed contradicts that version
   being in force on D, and its text was unseen until later. (A later capture stating a
   start on or before the answer's capture is contradicted by that capture: its stated
   date is stale, as when a service edits without changing "Last updated".)

Pure: values in, values out, no store access.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from policydiff.core.model import Version

RULE = (
    "the newest version captured on or before the date whose effective date (or capture "
    "date, if it states none) is on or before the date; when none was captured by then, "
    "the version a later capture states was in force, flagged"
)


@dataclass(frozen=True, slots=True)
class InForce:
    """The answer to "which version was in force on ``on``", with what backs it."""

    on: date
    version: Version
    # The day the answer counts as in force from: its effective date, else its capture day.
    in_force_from: date
    # When the next version took over: its stated start when that falls after this
    # version's first capture, else its capture day (the latest day it can have taken
    # over; see ``until_uncertain``). None when this is the latest version.
    in_force_until: date | None
    # When the answer's text was first captured.
    first_seen: datetime
    # When the next version was captured (the answer was last seen in force before it).
    last_seen: datetime | None
    # Later captures stating a start after the answer's capture and on or before ``on``:
    # the text in force may be one of these, unseen on the day (rule 3).
    unseen_candidates: tuple[Version, ...] = ()
    # The answer itself was first captured after ``on`` (rule 2).
    captured_after: bool = False
    # The next version's stated start is not after this version's first capture (a stale
    # "Last updated"), so it took over somewhere between first_seen and last_seen.
    until_uncertain: bool = False

    @property
    def flagged(self) -> bool:
        """Whether the answer rests on text first captured after the date."""
        return self.captured_after or bool(self.unseen_candidates)

    @property
    def caveats(self) -> tuple[str, ...]:
        """One sentence per reason the answer is uncertain, for people."""
        found: list[str] = []
        if self.captured_after:
            found.append(
                f"version {self.version.number} is in force from its effective date "
                f"{self.in_force_from.isoformat()}, but was first captured "
                f"{self.first_seen.date().isoformat()}, after {self.on.isoformat()}"
            )
        if self.unseen_candidates:
            names = ", ".join(
                f"version {v.number} (captured {v.captured_at.date().isoformat()}, "
                f"in force from {start_of(v).isoformat()})"
                for v in self.unseen_candidates
            )
            found.append(
                f"later captures state a start between this capture and "
                f"{self.on.isoformat()}: {names}; the text in force that day may have been "
                "one of them"
            )
        if (
            self.until_uncertain
            and self.last_seen is not None
            and self.first_seen.date() < self.on < self.last_seen.date()
        ):
            found.append(
                f"the next version states a start no later than this one was captured, so "
                f"it took over some day between {self.first_seen.date().isoformat()} and "
                f"{self.last_seen.date().isoformat()} (it may already have been in force)"
            )
        return tuple(found)


def start_of(version: Version) -> date:
    """Return the day a version states it is in force from: effective date, else capture day."""
    return version.effective_date or version.captured_at.date()


def in_force_until(history: Sequence[Version], index: int) -> tuple[date | None, bool]:
    """Return when the version at ``index`` stopped being in force, and whether that is uncertain.

    The next version's stated start when it falls after this version's first capture;
    else the next version's capture day (uncertain: it took over some day in between).
    (None, False) for the latest version.
    """
    if index + 1 >= len(history):
        return None, False
    following = history[index + 1]
    until = start_of(following)
    if until <= history[index].captured_at.date():
        return following.captured_at.date(), True
    return until, False


def in_force(history: Sequence[Version], on: date) -> InForce | None:
    """Apply the rule to a policy's versions in capture order; None when nothing is in force."""
    known = [k for k, v in enumerate(history) if v.captured_at.date() <= on and start_of(v) <= on]
    later = [k for k, v in enumerate(history) if v.captured_at.date() > on and start_of(v) <= on]
    if known:
        index = known[-1]
        seen_on = history[index].captured_at.date()
        unseen = tuple(history[k] for k in later if k > index and seen_on < start_of(history[k]))
        captured_after = False
    elif later:
        # Rule 2: the latest stated start wins; on a tie (a stale date carried over) the
        # earliest capture, the one closest to the day.
        index = min(later, key=lambda k: (-start_of(history[k]).toordinal(), k))
        unseen = ()
        captured_after = True
    else:
        return None
    version = history[index]
    following = history[index + 1] if index + 1 < len(history) else None
    until, uncertain = in_force_until(history, index)
    return InForce(
        on=on,
        version=version,
        in_force_from=start_of(version),
        in_force_until=until,
        until_uncertain=uncertain,
        first_seen=version.captured_at,
        last_seen=following.captured_at if following is not None else None,
        unseen_candidates=unseen,
        captured_after=captured_after,
    )
