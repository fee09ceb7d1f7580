"""Label values decoded a chunk at a time into (event_id hash, label), like the predictions
(streams/report/columns.py); a report may read millions of labels. The body of a Label
(schemas/label.avsc) is two strings, an int and a long::

    event_id entity_id   zig-zag varint length, bytes
    label                zig-zag varint int (0 or 1: one byte)
    observed_at          zig-zag varint long

Values with another header, a long string or a body that does not end where it should go
through :meth:`AvroCodec.decode`; those that do not decode are counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from schemas.codec import AvroCodec
from schemas.errors import DecodeError
from schemas.wire import ascii_spans, hash_slices, hash_strings, varints
from streams.report.columns import Frames


class LabelDecoder:
    def __init__(self, codec: AvroCodec) -> None:
        self.codec = codec
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
        ok &= fits
        _, pos, fits = varints(words, np.minimum(pos, frames.limit))
        ok &= fits & (pos == frames.ends)
        fast = np.flatnonzero(ok)
        keys = hash_slices(frames.data, id_start[fast], id_len[fast])
        labels = label[fast].astype(np.int8)
        slow = np.flatnonzero(~ok)
        if len(slow):
            records, decoded = [], []
            for i in slow.tolist():
                try:
                    records.append(self.codec.decode(values[i]))
                    decoded.append(i)
                except DecodeError:
                    self.undecodable += 1
            keys = np.concatenate([keys, hash_strings([r["event_id"] for r in records])])
            labels = np.concatenate(
                [labels, np.fromiter((r["label"] for r in records), np.int8, len(records))]
            )
            order = np.argsort(np.concatenate([fast, decoded]), kind="stable")  # input order
            keys, labels = keys[order], labels[order]
        return keys, labels
