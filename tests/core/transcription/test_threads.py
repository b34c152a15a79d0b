"""Serving items from threads of this process (:mod:`unmf_core.transcription.threads`)."""
import threading

import pytest

from unmf_core.errors import Cancelled
from unmf_core.transcription.threads import THREAD_NAME, release_free_memory, run_in_threads


def _alive():
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]


def test_items_are_served_in_order_at_most_workers_at_once():
    running, most, lock = set(), [0], threading.Lock()

    def serve(x):
        with lock:
            running.add(x)
            most[0] = max(most[0], len(running))
        threading.Event().wait(0.01)
        with lock:
            running.discard(x)
        return x * x

    events = list(run_in_threads(range(6), serve, 2))
    assert [e[1] for e in events if e[0] == "start"] == list(range(6))
    assert sorted(e[2] for e in events if e[0] == "done") == [x * x for x in range(6)]
    assert most[0] == 2 and _alive() == []


def test_an_error_or_a_cancel_stops_the_items_in_flight():
    stop = threading.Event()

    def serve(x):
        if x == 0:
            raise KeyError("boom")
        stop.wait(10)  # a long item: returns only when stopped
        return "stopped" if stop.is_set() else "ran out"

    with pytest.raises(KeyError):
        list(run_in_threads(range(4), serve, 2, stop=stop))
    assert stop.is_set() and _alive() == []

    stop = threading.Event()
    with pytest.raises(Cancelled):
        list(run_in_threads(range(4), lambda x: stop.wait(10), 2, cancel=lambda: True, stop=stop))
    assert stop.is_set() and _alive() == []


def test_releasing_free_memory_is_harmless():
    release_free_memory()
    release_free_memory()
