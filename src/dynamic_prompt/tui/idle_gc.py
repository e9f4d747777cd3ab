"""Full garbage collections while the dashboard is idle, not while it shows a change.

CPython's cyclic collector runs a full (oldest-generation) pass whenever enough
objects have survived the younger ones. In the dashboard every refresh makes
thousands of short-lived Rich and Textual objects, so a full pass came every few
changes and took 50-120 ms: the slowest twentieth of "write -> visible" samples
were almost all such a pass landing between a write and its paint
(``benchmarks/bench_dashboard.py``).

:class:`IdleCollector` moves that work out of the way:

- once the dashboard has painted, everything alive then (imported modules, the
  widget tree) is frozen (``gc.freeze``), so a full pass no longer walks it;
- automatic full passes are turned off (the young generations still collect as
  usual; they cost a few milliseconds);
- :meth:`IdleCollector.tick`, called a few times a second, runs the full pass
  once the collector would have wanted one and nothing is being read or drawn
  and no change arrived for :data:`QUIET` seconds; under a stream of changes
  with no such moment it runs anyway once twice the usual work has piled up
  (:data:`OVERDUE_FACTOR`), so memory stays bounded and no pass grows large.

Most of what a full pass frees here is cyclic garbage made by Textual itself
(strips, their caches and the rows of redrawn tables), so it cannot simply be
made not to exist; it can be freed at a moment nobody is waiting for a frame.

On :meth:`IdleCollector.stop` the thresholds and the frozen objects are given
back, so an app run inside a longer process (the tests) leaves it as it was.
This module knows nothing of Textual.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

QUIET = 0.1
"""Seconds without a change (and nothing being drawn) before a full pass may run."""

OVERDUE_FACTOR = 2
"""A full pass runs regardless once this many times the usual work is waiting."""

NO_AUTOMATIC_FULL = 1_000_000
"""A third threshold the collector never reaches: no automatic full passes."""


class _Shared:
    """The process's collector is one: several dashboards in one process (tests, an
    embedding program) share the take-over, and the last to stop gives it back."""

    users = 0
    saved: tuple[int, int, int] | None = None
    froze = False


class IdleCollector:
    """Runs the collector's full passes at quiet moments.

    Args:
        busy: returns True while a change is being read or drawn.
        last_change: when the last change arrived, in ``clock`` seconds.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        busy: Callable[[], bool],
        last_change: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.busy = busy
        self.last_change = last_change
        self.clock = clock
        self.full_passes = 0
        """Full passes this collector ran (for tests and curiosity)."""
        self.active = False
        """True between a :meth:`start` that took over and :meth:`stop`."""

    def start(self) -> None:
        """Freeze what is alive now and take over the full passes."""
        if self.active or not gc.isenabled():
            return  # already started, or the process manages the collector itself
        if _Shared.users == 0:
            thresholds = gc.get_threshold()
            if thresholds[2] <= 0:
                # An incremental collector (CPython 3.14) has no third threshold and no
                # long full passes to move: leave it alone.
                return
            gc.collect()
            # Objects someone else froze stay theirs: freeze (and later unfreeze) only
            # when nothing is frozen yet.
            _Shared.froze = gc.get_freeze_count() == 0
            if _Shared.froze:
                gc.freeze()
            _Shared.saved = thresholds
            gc.set_threshold(thresholds[0], thresholds[1], NO_AUTOMATIC_FULL)
        _Shared.users += 1
        self.active = True

    def stop(self) -> None:
        """Give the thresholds and the frozen objects back (when the last collector stops)."""
        if not self.active:
            return
        self.active = False
        _Shared.users -= 1
        if _Shared.users == 0 and _Shared.saved is not None:
            gc.set_threshold(*_Shared.saved)
            _Shared.saved = None
            if _Shared.froze:
                gc.unfreeze()
                _Shared.froze = False

    def tick(self) -> bool:
        """Run a full pass if one is due and it is a quiet moment (or it is overdue)."""
        if not self.active or _Shared.saved is None:
            return False
        # The oldest generation's counter counts collections of the younger ones since
        # the last full pass; the automatic rule asks for a pass at its threshold.
        waiting = gc.get_count()[2]
        due = _Shared.saved[2]
        if waiting < due:
            return False
        if waiting < OVERDUE_FACTOR * due:
            if self.busy() or self.clock() - self.last_change() < QUIET:
                return False
        gc.collect()
        self.full_passes += 1
        return True
