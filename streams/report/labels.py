"""Label values decoded a chunk at a time into (event_id hash, label), like the predictions
(streams/report/columns.py); a report may read millions of labels. The body of a project's
Label (schemas/project/avro.py) is two strings, the outcome and a long; with an int outcome
(a binary project's 0/1, a class index)::

    event_id entity_id   zig-zag varint length, bytes
    <outcome>            zig-zag varint int (0 or 1: one byte)
    observed_at          zig-zag varint long

Values with another header, a long string or a body that does not end where it should go
through :meth:`AvroCodec.decode`, as do all values of an outcome of another type (a class
name, a boolean); those that do not decode, or hold no outcome of the task, are counted.
Labels are small integers (0/1, a class's index): a regression's values are not read here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from schemas.codec import AvroCodec
from schemas.errors import DecodeError
from schemas.project import Project
from schemas.wire import ascii_spans, hash_slices, hash_strings, varints
from streams.report.columns import Frames


def _value(project: Project | None, field: str, record: dict) -> int | None:
    """A decoded label's outcome as a small integer (None: no outcome of this task)."""
    value = record.get(field)
    if project is None:
        return value if value in (0, 1) else None
    number = project.outcome(value)
    return None if number is None else int(number)


class LabelDecoder:
    def __init__(self, codec: AvroCodec, project: Project | None = None) -> None:
        self.codec = codec
        self.project = project
        self.field = project.spec.labels.field if project is not None else "label"
        self.varint = project is None or project.spec.labels.type in ("int", "long")
        self.header = np.frombuffer(codec.frame_header(), dtype=np.uint8)
        self.undecodable = 0

    def decode(self, values: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """uint64 event_id hashes and int8 labels of the values that decode."""
        frames = Frames.of(values, self.header, 4)
        words = frames.words
        id_start, id_len, pos = frames.string(frames.body)
        _, _, pos = frames.string(pos)  # entity_id
        ok = frames.ok
        ok &= ascii_spans(words, frames.body, pos)  # the two strings: UTF-8 as for the codec
        label, pos, fits = varints(words, pos)
        ok &= fits & (label >= 0) & (label < 128) & self.varint
        _, pos, fits = varints(words, np.minimum(pos, frames.limit))
        ok &= fits & (pos == frames.ends)
        fast = np.flatnonzero(ok)
        keys = hash_slices(frames.data, id_start[fast], id_len[fast])
        labels = label[fast].astype(np.int8)
        slow = np.flatnonzero(~ok)
        if len(slow):
            records, outcomes, decoded = [], [], []
            for i in slow.tolist():
                try:
                    record = self.codec.decode(values[i])
                except DecodeError:
                    self.undecodable += 1
                    continue
                outcome = _value(self.project, self.field, record)
                if outcome is None:
                    self.undecodable += 1
                    continue
                records.append(record)
                outcomes.append(outcome)
                decoded.append(i)
            keys = np.concatenate([keys, hash_strings([r["event_id"] for r in records])])
            labels = np.concatenate([labels, np.asarray(outcomes, dtype=np.int8)])
            order = np.argsort(np.concatenate([fast, decoded]), kind="stable")  # input order
            keys, labels = keys[order], labels[order]
        return keys, labels
