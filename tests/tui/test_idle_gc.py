"""Full garbage collections wait for quiet moments, and the collector is handed back intact."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from dynamic_prompt.tui import idle_gc
from dynamic_prompt.tui.idle_gc import IdleCollector
from tests.tui.conftest import AppFactory
from tests.tui.helpers import settle

DUE = gc.get_threshold()[2]
"""The automatic rule's threshold for a full pass (10 unless someone changed it)."""


class Moment:
    """A hand-moved clock and a busy flag."""

    def __init__(self) -> None:
        self.now = 100.0
        self.changed_at = 0.0
        self.is_busy = False


@pytest.fixture
def moment() -> Iterator[Moment]:
    before = gc.get_threshold()
    yield Moment()
    assert gc.get_threshold() == before  # every test stops its collector


def collector(moment: Moment) -> IdleCollector:
    return IdleCollector(busy=lambda: moment.is_busy, last_change=lambda: moment.changed_at,
                         clock=lambda: moment.now)


def pile_up(passes: int) -> None:
    """Make the oldest generation's counter read ``passes`` (as young collections would)."""
    gc.collect()
    for _ in range(passes):
        gc.collect(1)
    assert gc.get_count()[2] == passes


def test_start_freezes_and_blocks_automatic_full_passes_stop_restores(moment: Moment) -> None:
    assert gc.get_freeze_count() == 0
    saved = gc.get_threshold()
    gc_ = collector(moment)
    gc_.start()
    try:
        assert gc_.active and gc.get_freeze_count() > 0
        assert gc.get_threshold()[:2] == saved[:2]
        assert gc.get_threshold()[2] == idle_gc.NO_AUTOMATIC_FULL
    finally:
        gc_.stop()
    assert not gc_.active and gc.get_freeze_count() == 0 and gc.get_threshold() == saved
    gc_.stop()  # a second stop changes nothing
    assert gc.get_threshold() == saved


def test_waits_while_busy_or_just_changed_then_collects_when_quiet(moment: Moment) -> None:
    gc_ = collector(moment)
    gc_.start()
    try:
        pile_up(DUE - 1)  # below the automatic rule's threshold: nothing due yet
        assert not gc_.tick()
        pile_up(DUE)
        moment.is_busy = True
        assert not gc_.tick() and gc.get_count()[2] == DUE
        moment.is_busy = False
        moment.changed_at = moment.now - idle_gc.QUIET / 2
        assert not gc_.tick() and gc.get_count()[2] == DUE
        moment.changed_at = moment.now - idle_gc.QUIET * 1.01
        assert gc_.tick()
        assert gc.get_count()[2] == 0 and gc_.full_passes == 1
    finally:
        gc_.stop()


def test_overdue_pass_runs_even_while_changes_keep_coming(moment: Moment) -> None:
    gc_ = collector(moment)
    gc_.start()
    try:
        moment.is_busy = True
        moment.changed_at = moment.now
        pile_up(idle_gc.OVERDUE_FACTOR * DUE - 1)
        assert not gc_.tick()
        pile_up(idle_gc.OVERDUE_FACTOR * DUE)
        assert gc_.tick() and gc.get_count()[2] == 0
    finally:
        gc_.stop()


def test_two_collectors_share_the_take_over_and_the_last_one_gives_it_back(moment: Moment) -> None:
    saved = gc.get_threshold()
    first, second = collector(moment), collector(moment)
    first.start()
    second.start()
    first.stop()
    # The second dashboard still runs: full passes stay its to schedule.
    assert second.active and gc.get_threshold()[2] == idle_gc.NO_AUTOMATIC_FULL
    assert gc.get_freeze_count() > 0
    second.stop()
    assert gc.get_threshold() == saved and gc.get_freeze_count() == 0


def test_leaves_a_collector_without_a_third_threshold_alone(moment: Moment) -> None:
    """CPython 3.14's incremental collector has no third threshold (it reads 0)."""
    saved = gc.get_threshold()
    gc.set_threshold(saved[0], saved[1], 0)
    try:
        gc_ = collector(moment)
        gc_.start()
        assert not gc_.active and gc.get_freeze_count() == 0
        assert gc.get_threshold() == (saved[0], saved[1], 0)
        assert not gc_.tick()
        gc_.stop()
    finally:
        gc.set_threshold(*saved)


def test_does_nothing_where_the_process_disabled_the_collector(moment: Moment) -> None:
    gc.disable()
    try:
        gc_ = collector(moment)
        gc_.start()
        assert not gc_.active and gc.get_freeze_count() == 0
        pile_up(50)
        assert not gc_.tick()
    finally:
        gc.enable()


async def test_the_dashboard_collects_when_idle_and_hands_the_collector_back(make_app: AppFactory,
                                                                             moment: Moment) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.idle_gc.active
        assert gc.get_threshold()[2] == idle_gc.NO_AUTOMATIC_FULL
        pile_up(DUE)
        for _ in range(40):
            await pilot.pause(0.05)
            if app.idle_gc.full_passes:
                break
        assert app.idle_gc.full_passes >= 1
    assert not app.idle_gc.active and gc.get_freeze_count() == 0


async def test_a_tick_while_the_dashboard_is_torn_down_counts_as_busy(make_app: AppFactory,
                                                                     moment: Moment) -> None:
    # The collector's timer can fire after the screen's parts are gone (app shutdown):
    # that moment is not quiet, and asking must not raise.
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        dashboard = app.dashboard
        assert dashboard.settled
        for part in list(dashboard.children):
            await part.remove()
        assert dashboard.settled is False
        assert isinstance(dashboard.last_change, float)
