"""The results, for people: a table in the terminal (rich) and a plot (matplotlib, PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The goals of the benchmark issue, shown beside the numbers.
GOALS = {"latency_p99_ms": 50.0, "loop_lag_p99_ms": 10.0, "pulse_p99_ms": 20.0,
         "rss_per_connection_kib": 100.0, "storm_max_ms": 100.0}


def ratios(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mythos / Evennia for each scenario and bot count measured on both."""
    by_key: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for s in steps:
        by_key.setdefault((s["scenario"].split(":")[0], s["bots"]), {})[s["target"]] = s
    out = []
    for (scenario, bots), pair in by_key.items():
        m, e = pair.get("mythos"), pair.get("evennia")
        if m is None or e is None:
            continue

        def div(x: float | None, y: float | None) -> float | None:
            return None if x is None or not y else round(x / y, 3)

        out.append({
            "scenario": scenario, "bots": bots,
            "commands_per_s": div(m["commands_per_s"], e["commands_per_s"]),
            "latency_p50": div(m["latency_ms"]["p50"], e["latency_ms"]["p50"]),
            "latency_p99": div(m["latency_ms"]["p99"], e["latency_ms"]["p99"]),
            "cpu_percent": div(m["cpu_percent"], e["cpu_percent"]),
            "rss_mib": div(m["rss_mib"], e["rss_mib"]),
        })
    return out


def _f(x: Any, digits: int = 1) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}"


COLUMNS = ("target", "scenario", "bots", "cmd/s", "p50 ms", "p95 ms", "p99 ms", "max ms",
           "lag p99", "pulse p99", "flush p99", "GC p99 (n)", "CPU %", "RSS MiB", "KiB/conn",
           "errors")


def _gc(step: dict[str, Any]) -> str:
    """Full collections in the hold: p99 of their pauses (ms) and how many there were."""
    n = step.get("gc2_pauses")
    if not n:
        return "-" if n is None else "0"
    return f"{_f(step.get('gc2_p99_ms'))} ({n})"


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for s in result["steps"]:
        lat = s["latency_ms"]
        out.append([s["target"], s["scenario"], _f(s["connected"]) + (
            f"/{s['bots']}" if s["connected"] != s["bots"] else ""),
            _f(s["commands_per_s"]), _f(lat["p50"]), _f(lat["p95"]), _f(lat["p99"]),
            _f(lat["max"]), _f(s["loop_lag_p99_ms"]), _f(s["pulse_p99_ms"]),
            _f(s["flush_p99_ms"]), _gc(s), _f(s["cpu_percent"]), _f(s["rss_mib"]),
            _f(s["rss_per_connection_kib"]), _f(s["error_count"])])
    return out


def markdown(result: dict[str, Any]) -> str:
    """The same table in Markdown (for docs/PERFORMANCE.md)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(result)]
    if result.get("ratios"):
        lines += ["", "Mythos / Evennia (cmd/s above 1 and latency below 1 favour Mythos):", "",
                  "| scenario | bots | cmd/s | p50 | p99 | CPU | RSS |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {x['scenario']} | {x['bots']} | {_f(x['commands_per_s'], 2)} | "
                  f"{_f(x['latency_p50'], 3)} | {_f(x['latency_p99'], 3)} | "
                  f"{_f(x['cpu_percent'], 2)} | {_f(x['rss_mib'], 2)} |"
                  for x in result["ratios"]]
    for s in result["steps"]:
        if "storm" in s:
            st = s["storm"]
            lines.append("")
            lines.append(f"Login storm ({s['target']}): {st['ok']}/{st['logins']} logged in "
                         f"in {st['seconds']} s (login p50 {_f(st['login_ms']['p50'])} ms, "
                         f"max {_f(st['login_ms']['max'])} ms); the players already in: "
                         f"max {_f(s['latency_ms']['max'])} ms, the probe: p99 "
                         f"{_f(s['probe_latency_ms']['p99'])} ms.")
    return "\n".join(lines)


def table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Mythos load benchmark {result.get('label') or ''} "
                    f"({result['git']['rev']}, {result['machine']['host']}, "
                    f"{result['machine']['cpus']} CPUs)".replace("  ", " "))
    for c in COLUMNS:
        t.add_column(c, justify="left" if c in ("target", "scenario") else "right")
    for r in rows(result):
        t.add_row(*r)
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(t)
    for s in result["steps"]:
        if "storm" in s:
            st = s["storm"]
            console.print(
                f"login storm on {s['target']}: {st['ok']}/{st['logins']} in {st['seconds']} s"
                f" (login p50 {_f(st['login_ms']['p50'])} ms, max {_f(st['login_ms']['max'])}"
                f" ms); players already in: max {_f(s['latency_ms']['max'])} ms; probe p99 "
                f"{_f(s['probe_latency_ms']['p99'])} ms")
    if result.get("ratios"):
        r = Table(title="Mythos / Evennia")
        for c in ("scenario", "bots", "cmd/s", "p50", "p99", "CPU", "RSS"):
            r.add_column(c, justify="right")
        for x in result["ratios"]:
            r.add_row(x["scenario"], str(x["bots"]), _f(x["commands_per_s"], 2),
                      _f(x["latency_p50"], 3), _f(x["latency_p99"], 3),
                      _f(x["cpu_percent"], 2), _f(x["rss_mib"], 2))
        console.print(r)
    load = [s for s in result["steps"]
            if (s.get("load_generators") or {}).get("cpu_percent") is not None]
    busiest = max(load, key=lambda s: s["load_generators"]["cpu_percent"], default=None)
    if busiest is not None:
        lg = busiest["load_generators"]
        console.print(f"load generators at their busiest: {lg['cpu_percent']}% CPU over "
                      f"{lg['processes']} processes, their own loop lag p99 "
                      f"{_f(lg['loop_lag_p99_ms'])} ms")


def plot(result: dict[str, Any], path: Path) -> None:
    """Latency percentiles and server CPU against the number of bots, per target (ramp)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_lat, ax_cpu) = plt.subplots(1, 2, figsize=(12, 4.8))
    colours = {"mythos": "tab:blue", "evennia": "tab:orange"}
    styles = {"p50": ":", "p95": "--", "p99": "-"}
    for target in sorted({s["target"] for s in result["steps"]}):
        ramp = sorted((s for s in result["steps"]
                       if s["target"] == target and s["scenario"].startswith("ramp")),
                      key=lambda s: s["bots"])
        if not ramp:
            continue
        x = [s["connected"] for s in ramp]
        for q, style in styles.items():
            ax_lat.plot(x, [s["latency_ms"][q] for s in ramp], style, marker="o",
                        color=colours.get(target), label=f"{target} {q}")
        ax_cpu.plot(x, [s["cpu_percent"] for s in ramp], "-", marker="o",
                    color=colours.get(target), label=f"{target} CPU %")
    ax_lat.axhline(GOALS["latency_p99_ms"], color="grey", lw=0.8, ls="-.",
                   label="goal: p99 50 ms")
    ax_lat.set_yscale("log")
    ax_lat.set_xlabel("connected bots")
    ax_lat.set_ylabel("answer latency (ms)")
    ax_lat.set_title("Answer latency")
    ax_lat.legend(fontsize=8)
    ax_lat.grid(True, which="both", alpha=0.3)
    ax_cpu.set_xlabel("connected bots")
    ax_cpu.set_ylabel("server CPU (% of one core)")
    ax_cpu.set_title("Server CPU")
    ax_cpu.legend(fontsize=8)
    ax_cpu.grid(True, alpha=0.3)
    label = result.get("label")
    fig.suptitle(f"Mythos load benchmark{f' ({label})' if label else ''}: "
                 f"{result['git']['rev']}, {result['machine']['host']}, "
                 f"{result['machine']['cpus']} CPUs, {result['started']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str]) -> None:
    """``python -m bench.report RESULTS.json``: the table in Markdown, for docs/PERFORMANCE.md."""
    import json

    for name in argv:
        result = json.loads(Path(name).read_text())
        print(f"Run `{result['stem']}` ({result.get('label') or 'full'}), "
              f"{result['machine']['cpus']} CPUs, Python {result['machine']['python']}:\n")
        print(markdown(result))
        print()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
