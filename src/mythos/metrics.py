"""Prometheus metrics. One ``Metrics`` per server, each in its own registry (tests run several)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.loop_lag = Histogram(
            "mythos_event_loop_lag_seconds", "How late the event loop ran a timer callback",
            buckets=_FAST, registry=r)
        self.pulse_duration = Histogram(
            "mythos_pulse_duration_seconds", "Time spent in one pulse (its parts, not their waits)",
            buckets=_FAST, registry=r)
        self.pulses_skipped = Counter(
            "mythos_pulses_skipped", "Pulses skipped because the loop fell behind", registry=r)
        self.subsystem_duration = Histogram(
            "mythos_subsystem_duration_seconds", "Time spent in one subsystem run",
            ["subsystem"], buckets=_FAST, registry=r)
        self.subsystem_errors = Counter(
            "mythos_subsystem_errors", "Subsystem runs that raised", ["subsystem"], registry=r)
        self.flush_duration = Histogram(
            "mythos_flush_duration_seconds", "Write-behind flush duration",
            buckets=(*_FAST, 5.0, 10.0, 30.0),  # a saturated server's flush takes seconds
            registry=r)
        self.flush_rows = Counter(
            "mythos_flush_rows", "Progress rows written by the write-behind flusher", registry=r)
        self.gc_pause = Histogram(
            "mythos_gc_pause_seconds",
            "How long one collection of the garbage collector held the process (nothing else "
            "runs meanwhile), by the oldest generation it collected (0, 1, 2)", ["generation"],
            buckets=_FAST,
            registry=r)
        self.flush_failures = Counter(
            "mythos_flush_failures", "Write-behind flushes that failed (and will retry)",
            registry=r)
        self.dirty = Gauge(
            "mythos_dirty_characters", "Characters with unsaved progress", registry=r)
        self.sessions = Gauge("mythos_sessions", "Connected sessions", ["state"], registry=r)
        self.players_online = Gauge(
            "mythos_players_online", "Characters in the game", registry=r)
        self.commands = Counter(
            "mythos_commands", "Commands handled", ["command"], registry=r)
        self.command_errors = Counter(
            "mythos_command_errors", "Commands that raised an unexpected error", registry=r)
        self.logins = Counter("mythos_logins", "Login attempts", ["result"], registry=r)
        self.item_transactions = Counter(
            "mythos_item_transactions",
            "Economy transactions (item moves): committed, conflict (the database disagreed), "
            "failed (the database did not answer)", ["result"], registry=r)
        self.turn_wait = Histogram(
            "mythos_economy_turn_wait_seconds",
            "How long an item action waited for its economy turn (engine/turns.py)",
            buckets=(*_FAST, 5.0, 10.0), registry=r)
        self.output_pulse_writes = Counter(
            "mythos_output_pulse_writes",
            "Writes of others' news to clients by the output pulse (at most one per client "
            "every output_interval; the answers to a client's own commands are not counted)",
            registry=r)
        self.disconnects_slow = Counter(
            "mythos_slow_client_disconnects",
            "Clients disconnected because their output buffer passed the bound", registry=r)
        self.refused = Counter(
            "mythos_connections_refused",
            "Sessions refused or hung up by a limit: total, address (connection caps), "
            "idle_login, idle (idle timeouts)", ["reason"], registry=r)

        self.world_up = Gauge(
            "mythos_world_up", "1 while the world is up (a gateway: while it answers)", registry=r)
        self.lines_resent = Counter(
            "mythos_gateway_lines_resent",
            "Lines a gateway sent again because the world had not begun them when it went "
            "(a restart, a crash) or when it or the gateway was off NATS (bus/wire.py)",
            registry=r)
        self.bus_dropped = Counter(
            "mythos_bus_dropped",
            "Bus messages dropped unread: too_big, untrusted (wrong token), bad_json",
            ["reason"], registry=r)

        #: ``commands`` per command name (``labels()`` takes a lock and builds a key each time).
        self._command_counts: dict[str, Any] = {}

    def command_handled(self, name: str) -> None:
        counter = self._command_counts.get(name)
        if counter is None:
            counter = self._command_counts[name] = self.commands.labels(name)
        counter.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
