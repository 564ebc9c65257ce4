"""Numbers: percentiles of samples, and quantiles of Prometheus histograms between two scrapes."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

#: A scrape: (metric name, frozenset of (label, value)) -> value.
Scrape = dict[tuple[str, frozenset[tuple[str, str]]], float]


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) of already sorted values, nearest rank; None if empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary_ms(micros: Iterable[int]) -> dict[str, float | int | None]:
    """count, p50, p95, p99 and max of latencies given in microseconds, in milliseconds."""
    v = sorted(micros)

    def ms(x: float | None) -> float | None:
        return None if x is None else round(x / 1000, 3)

    return {"count": len(v), "p50": ms(percentile(v, 50)), "p95": ms(percentile(v, 95)),
            "p99": ms(percentile(v, 99)), "max": ms(v[-1] if v else None)}


def parse_prometheus(text: str) -> Scrape:
    """The samples of a Prometheus text exposition."""
    out: Scrape = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = frozenset(_LABEL.findall(m[2] or ""))
        try:
            out[(m[1], labels)] = float(m[3])
        except ValueError:
            continue
    return out


def counter_delta(before: Scrape, after: Scrape, name: str,
                  labels: dict[str, str] | None = None) -> float:
    """How much a counter (all its label sets together, or those with ``labels``) grew between
    two scrapes."""
    want = set((labels or {}).items())

    def total(s: Scrape) -> float:
        return sum(v for (n, lab), v in s.items() if n == name and want <= set(lab))
    return total(after) - total(before)


def histogram_quantile(before: Scrape, after: Scrape, name: str, q: float,
                       labels: dict[str, str] | None = None) -> float | None:
    """The q-quantile (0..1) of what a histogram observed between two scrapes, in its own unit,
    interpolated inside a bucket as Prometheus' ``histogram_quantile`` does. None when nothing
    was observed; the highest finite bound when the quantile falls in the +Inf bucket."""
    want = set((labels or {}).items())

    def buckets(s: Scrape) -> dict[float, float]:
        out: dict[float, float] = {}
        for (n, lab), v in s.items():
            if n != f"{name}_bucket" or not want <= set(lab):
                continue
            le = dict(lab).get("le")
            if le is None:
                continue
            bound = math.inf if le in ("+Inf", "Inf") else float(le)
            out[bound] = out.get(bound, 0.0) + v
        return out

    b0, b1 = buckets(before), buckets(after)
    bounds = sorted(b1)
    if not bounds:
        return None
    cum = [(b, b1[b] - b0.get(b, 0.0)) for b in bounds]
    total = cum[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in cum:
        if count >= rank:
            if math.isinf(bound):
                finite = [b for b, _ in cum if not math.isinf(b)]
                return finite[-1] if finite else None
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return None
