"""Reference distributions: what a model version saw at training time, kept beside it.

Every exported version has a ``reference.json`` in its folder of the model repository
(inference/repository.py). For each watched column (every column of the project's input
layout, then the score) it holds the bin edges, the reference counts on those bins and
summary quantiles. A scoring
worker bins what it sees on the SAME edges (:meth:`Reference.histogram`), so a window is a
small array of counts, and the drift agent compares it with :attr:`Reference.counts`.

Edges are the inner deciles of the training data. A column with at most ``n_bins`` distinct
values (a boolean, a small count, a one-hot column) gets one bin per value instead, with
edges half-way between them, so that a discrete column never collapses into one bin. Bin
``k`` of a column holds the values ``v`` with exactly ``k`` edges ``<= v``; values beyond the
training range fall in the first or last bin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCORE = "score"
N_BINS = 10
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
FILE_NAME = "reference.json"


def _edges(column: np.ndarray, n_bins: int) -> np.ndarray:
    distinct = np.unique(column)
    if len(distinct) <= n_bins:
        return (distinct[:-1] + distinct[1:]) / 2.0
    inner = np.quantile(column, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.unique(inner)


@dataclass(frozen=True, slots=True)
class Reference:
    """Bin edges and counts per watched column; ``counts`` is (columns, n_bins), zero past
    each column's last bin (a column with ``e`` edges uses bins ``0..e``)."""

    names: tuple[str, ...]
    edges: tuple[np.ndarray, ...]
    counts: np.ndarray
    quantiles: dict[str, list[float]]

    @classmethod
    def build(
        cls, x: np.ndarray, scores: np.ndarray, inputs: tuple[str, ...], n_bins: int = N_BINS
    ) -> Reference:
        """The reference of a model from its training rows ``x`` (one column per name of
        ``inputs``, the project's layout) and its scores on them."""
        watched = (*inputs, SCORE)
        columns = np.column_stack([x, np.asarray(scores).reshape(-1)]).astype(np.float64)
        if columns.shape[1] != len(watched) or len(columns) == 0:
            raise ValueError(f"need rows of {len(inputs)} inputs and a score each")
        edges = tuple(_edges(columns[:, i], n_bins) for i in range(columns.shape[1]))
        partial = cls(watched, edges, np.zeros((len(watched), n_bins), np.int64), {})
        quantiles = {
            name: [float(q) for q in np.quantile(columns[:, i], QUANTILES)]
            for i, name in enumerate(watched)
        }
        return cls(watched, edges, partial.histogram(columns), quantiles)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The watched input columns (every name but the score)."""
        return self.names[:-1]

    @property
    def n_bins(self) -> int:
        return int(self.counts.shape[1])

    def bins_of(self, column: int) -> int:
        """How many bins column ``column`` really uses."""
        return len(self.edges[column]) + 1

    def bin_index(self, columns: np.ndarray) -> np.ndarray:
        """(n, columns) bin numbers of each value of ``columns`` (n rows)."""
        return self.bin_columns(np.ascontiguousarray(columns.T)).T

    def bin_columns(self, by_column: np.ndarray) -> np.ndarray:
        """(columns, n) bin numbers of ``by_column`` laid out one watched column per row:
        one ``searchsorted`` each, reading a contiguous row (the worker's layout)."""
        out = np.empty(by_column.shape, dtype=np.int64)
        for i, edges in enumerate(self.edges):
            out[i] = np.searchsorted(edges, by_column[i], side="right")
        return out

    def histogram(self, columns: np.ndarray) -> np.ndarray:
        """(columns, n_bins) counts of ``columns`` (n rows, one per watched column), in one
        ``bincount``; NaN lands in the last bin (the pipeline dead-letters non-finite rows
        before anything is counted)."""
        n_cols, n_bins = len(self.names), self.n_bins
        flat = self.bin_index(columns) + np.arange(n_cols) * n_bins
        return np.bincount(flat.ravel(), minlength=n_cols * n_bins).reshape(n_cols, n_bins)

    def to_json(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "edges": [e.tolist() for e in self.edges],
            "counts": self.counts.tolist(),
            "quantiles": self.quantiles,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reference:
        names = tuple(data["names"])
        if not names or names[-1] != SCORE:
            raise ValueError(f"reference columns {names} do not end with the {SCORE}")
        counts = np.asarray(data["counts"], dtype=np.int64)
        edges = tuple(np.asarray(e, dtype=np.float64) for e in data["edges"])
        if counts.shape[0] != len(names) or any(len(e) >= counts.shape[1] for e in edges):
            raise ValueError("reference counts do not match its edges")
        return cls(names, edges, counts, dict(data.get("quantiles", {})))

    def save(self, folder: Path) -> Path:
        path = folder / FILE_NAME
        path.write_text(json.dumps(self.to_json()))
        return path

    @classmethod
    def load(cls, folder: Path) -> Reference:
        return cls.from_json(json.loads((folder / FILE_NAME).read_text()))
