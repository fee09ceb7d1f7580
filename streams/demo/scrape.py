"""One read of a process's ``/metrics`` page, and sums over its samples.

The dashboard reads what the processes export for Prometheus (and Grafana): the same
figures, not a second bookkeeping of its own.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, dict[str, str], float]


@dataclass(frozen=True)
class Page:
    """The samples of one scrape (empty when the process did not answer)."""

    samples: list[Sample] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Page:
        return cls(
            [
                (s.name, dict(s.labels), float(s.value))
                for family in text_string_to_metric_families(text)
                for s in family.samples
            ]
        )

    def total(self, name: str, **labels: str) -> float:
        """The sum of ``name``'s samples whose labels include ``labels``."""
        return sum(
            v
            for n, ls, v in self.samples
            if n == name and all(ls.get(k) == x for k, x in labels.items())
        )

    def by(self, name: str, label: str, **labels: str) -> dict[str, float]:
        """``name``'s samples summed per value of ``label`` (among those matching ``labels``)."""
        out: dict[str, float] = {}
        for n, ls, v in self.samples:
            if n == name and label in ls and all(ls.get(k) == x for k, x in labels.items()):
                out[ls[label]] = out.get(ls[label], 0.0) + v
        return out

    def labelled(self, name: str) -> list[tuple[dict[str, str], float]]:
        return [(ls, v) for n, ls, v in self.samples if n == name]


def scrape(url: str, timeout_s: float = 0.5) -> Page:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return Page.parse(answer.read().decode())
    except (OSError, urllib.error.URLError, ValueError):
        return Page()


def rate(now: float, before: float, seconds: float) -> float:
    """Per second between two readings of a counter (0 across a restart's reset)."""
    return max(now - before, 0.0) / seconds if seconds > 0 else 0.0
