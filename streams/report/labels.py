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
from streams.report.columns import ascii_spans, hash_slices, hash_strings, varints, words_of


class LabelDecoder:
    def __init__(self, codec: AvroCodec) -> None:
        self.codec = codec
        self.header = np.frombuffer(codec.frame_header(), dtype=np.uint8)
        self.undecodable = 0

    def decode(self, values: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """uint64 event_id hashes and int8 labels of the values that decode."""
        n = len(values)
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
        ends = np.cumsum(lengths)
        starts = ends - lengths
        data = np.frombuffer(b"".join(values) + bytes(64), dtype=np.uint8)
        limit = len(data) - 64
        ok = lengths >= len(self.header) + 4
        for j, byte in enumerate(self.header):
            ok &= data[np.minimum(starts + j, limit)] == byte
        id_at = starts + len(self.header)
        id_len = data[np.minimum(id_at, limit)].astype(np.int64)
        entity_at = np.minimum(id_at + 1 + (id_len >> 1), limit)
        entity_len = data[entity_at].astype(np.int64)
        ok &= (id_len < 128) & (entity_len < 128) & (id_len & 1 == 0) & (entity_len & 1 == 0)
        words = words_of(data)
        ok &= ascii_spans(words, id_at, entity_at + 1 + (entity_len >> 1))
        label, pos, fits = varints(words, np.minimum(entity_at + 1 + (entity_len >> 1), limit))
        ok &= fits
        _, pos, fits = varints(words, np.minimum(pos, limit))
        ok &= fits & (pos == ends)
        fast = np.flatnonzero(ok)
        keys = hash_slices(data, id_at[fast] + 1, id_len[fast] >> 1)
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
