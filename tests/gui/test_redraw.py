"""Redraws while a run streams in: the first step at once, the next ones coalesced (issue 13: open-to-screen)."""
from __future__ import annotations

import math

from unmf_gui.runs import Snapshot
from unmf_gui.viewmodel import REDRAW_MS, ViewModel


def test_the_first_step_after_a_quiet_spell_is_drawn_at_once_and_the_next_ones_together(qtbot):
    vm = ViewModel()
    updates = []
    vm.runUpdated.connect(updates.append)
    vm.begin_method("mu", 5)
    vm.add_step("mu", Snapshot(0, math.nan))
    assert updates == ["mu"]  # no wait for the timer
    for i in (1, 2, 3):
        vm.add_step("mu", Snapshot(i, math.nan))
    assert updates == ["mu"]  # within REDRAW_MS: stored, drawn together later
    qtbot.waitUntil(lambda: len(updates) == 2, timeout=10 * REDRAW_MS)
    assert vm.runs["mu"].div_steps == [0, 1, 2, 3]
    # a quiet spell: the coalescing timer is done and the last redraw is older than REDRAW_MS
    qtbot.waitUntil(lambda: not vm._redraw.isActive() and vm._last_flush.hasExpired(REDRAW_MS), timeout=5000)
    assert len(updates) == 2
    vm.add_step("mu", Snapshot(4, math.nan))
    assert len(updates) == 3


def test_a_runs_last_step_is_drawn_at_once(qtbot):
    vm = ViewModel()
    updates = []
    vm.runUpdated.connect(updates.append)
    vm.begin_method("mu", 2)
    for i in (0, 1):
        vm.add_step("mu", Snapshot(i, math.nan))
    assert updates == ["mu"]  # step 1 waits for the timer
    vm.add_step("mu", Snapshot(2, math.nan))
    assert updates == ["mu", "mu"] and vm.runs["mu"].div_steps == [0, 1, 2]  # the last: no wait


def test_a_runs_first_layer_is_drawn_at_once(qtbot):
    """Issue 13: the first layer on screen as soon as it exists (the initial state was drawn just before)."""
    import numpy as np

    vm = ViewModel()
    updates = []
    vm.runUpdated.connect(updates.append)
    vm.begin_method("unrolled", 10)
    image = np.zeros((2, 2), dtype=np.float32)
    vm.add_step("unrolled", Snapshot(0, math.nan, H_db=image, WH_db=image))
    vm.add_step("unrolled", Snapshot(1, math.nan, H_db=image, WH_db=image))
    assert updates == ["unrolled", "unrolled"] and vm.current_step() == 1
    vm.add_step("unrolled", Snapshot(2, math.nan, H_db=image, WH_db=image))
    assert len(updates) == 2  # the layers after it are coalesced
    qtbot.waitUntil(lambda: len(updates) == 3, timeout=10 * REDRAW_MS)
