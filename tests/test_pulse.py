"""The pulse and its timer heap, as plain objects: no server, no loop task, a clock of our own.

(That the real pulse task keeps ticking inside a running server is in test_engine.py.)"""

from __future__ import annotations

import asyncio

import pytest

from mythos.engine.pulse import Pulse, TimerHeap
from mythos.metrics import Metrics


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


# -- TimerHeap ------------------------------------------------------------------------------------

def test_due_timers_run_in_order_of_due_time_then_of_scheduling():
    clock = Clock()
    heap = TimerHeap(clock)
    ran: list[str] = []
    heap.call_later(3, lambda: ran.append("c"))
    heap.call_later(1, lambda: ran.append("a1"))
    heap.call_later(2, lambda: ran.append("b"))
    heap.call_later(1, lambda: ran.append("a2"))  # same due time: scheduled later, runs later
    heap.call_later(10, lambda: ran.append("late"))
    assert heap.run_due() == 0 and ran == []  # nothing due yet

    clock.now += 3
    assert heap.run_due() == 4
    assert ran == ["a1", "a2", "b", "c"]
    assert len(heap) == 1  # the one not due stays
    assert heap.run_due(now=clock.now + 100) == 1
    assert ran[-1] == "late" and len(heap) == 0


def test_cancelled_timers_are_skipped():
    clock = Clock()
    heap = TimerHeap(clock)
    ran: list[int] = []
    timers = [heap.call_later(i, lambda i=i: ran.append(i)) for i in range(5)]
    timers[1].cancel()
    timers[3].cancel()
    clock.now += 10
    assert heap.run_due() == 3
    assert ran == [0, 2, 4]
    assert len(heap) == 0


def test_a_raising_timer_does_not_stop_the_others():
    clock = Clock()
    heap = TimerHeap(clock)
    ran: list[str] = []

    def boom() -> None:
        raise RuntimeError("the shoggoth ate the callback")

    heap.call_later(1, lambda: ran.append("before"))
    heap.call_later(2, boom)
    heap.call_later(3, lambda: ran.append("after"))
    clock.now += 5
    assert heap.run_due() == 3
    assert ran == ["before", "after"]


def test_a_timer_may_schedule_another():
    clock = Clock()
    heap = TimerHeap(clock)
    ran: list[str] = []
    heap.call_later(1, lambda: heap.call_later(5, lambda: ran.append("second")))
    clock.now += 1
    heap.run_due()
    assert ran == [] and len(heap) == 1
    clock.now += 5
    heap.run_due()
    assert ran == ["second"]


# -- Pulse.tick -----------------------------------------------------------------------------------

async def test_a_raising_subsystem_is_counted_and_the_others_still_run():
    metrics = Metrics()
    pulse = Pulse(metrics, period=0.1)
    ran: list[str] = []

    def boom() -> None:
        raise ValueError("no")

    pulse.add("first", lambda: ran.append("first"))
    pulse.add("boom", boom)
    pulse.add("last", lambda: ran.append("last"))
    for _ in range(3):
        await pulse.tick()
    assert ran == ["first", "last"] * 3
    assert sample(metrics, "mythos_subsystem_errors_total", subsystem="boom") == 3
    assert sample(metrics, "mythos_subsystem_errors_total", subsystem="first") == 0
    assert sample(metrics, "mythos_subsystem_duration_seconds_count", subsystem="last") == 3
    assert sample(metrics, "mythos_pulse_duration_seconds_count") == 3
    assert pulse.count == 3


async def test_the_loop_takes_its_turn_between_two_parts_of_a_pulse():
    # A pulse holds the loop no longer than its largest part: what was waiting (here a
    # callback that the first part scheduled; in the game, commands read from sockets) runs
    # before the next part.
    metrics = Metrics()
    pulse = Pulse(metrics, period=0.1)
    ran: list[str] = []
    loop = asyncio.get_running_loop()

    def first() -> None:
        ran.append("first")
        loop.call_soon(ran.append, "waiting")

    pulse.add("first", first)
    pulse.add("second", lambda: ran.append("second"))
    await pulse.tick()
    assert ran == ["first", "waiting", "second"]
    assert sample(metrics, "mythos_pulse_duration_seconds_count") == 1


@pytest.mark.parametrize(("period", "seconds", "every"), [
    (0.1, None, 1),
    (0.1, 0.5, 5),
    (0.1, 0.3, 3),  # 0.3 / 0.1 is 2.9999999999999996 in floats: rounded, not truncated
    (0.1, 10, 100),
    (0.25, 1, 4),
    (0.1, 0.01, 1),  # shorter than a pulse: every pulse, never never
])
async def test_a_subsystem_runs_every_round_seconds_over_period_pulses(period, seconds, every):
    pulse = Pulse(Metrics(), period=period)
    ran: list[int] = []
    pulse.add("sub", lambda: ran.append(pulse.count), seconds=seconds)
    for _ in range(every * 4):
        await pulse.tick()
    assert ran == [every, every * 2, every * 3, every * 4]


async def test_tick_runs_the_due_timers_of_its_heap():
    pulse = Pulse(Metrics(), period=0.1)
    clock = Clock()
    pulse.timers = TimerHeap(clock)
    ran: list[str] = []
    pulse.timers.call_later(0.15, lambda: ran.append("t"))
    await pulse.tick()
    assert ran == []
    clock.now += 0.2
    await pulse.tick()
    assert ran == ["t"]
