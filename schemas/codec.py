"""Avro values on the wire: framing, writer-schema lookup, resolution to the reader's schema.

A value is a header naming the writer's schema, then the Avro binary body. Naming the writer
lets a consumer read what an older or newer producer wrote, as long as it knows that schema::

    single-object (default)   C3 01 | CRC-64-AVRO fingerprint, 8 bytes little-endian | body
    Confluent (registry URL)  00    | schema id, 4 bytes big-endian                  | body

Without a registry, writer schemas are known by fingerprint from :class:`WriterSchemas` (the
.avsc files of this package plus any older versions registered by hand). With one, the
registry is asked once per schema id, at the boundary (:class:`RegistrySchemaIds`).

The decode path is the hot path of every worker: parsed schemas are built once per codec, a
value is read in place (``BytesIO`` over bytes does not copy), and a value written with the
reader's own schema skips resolution.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any, cast

from fastavro import parse_schema, schemaless_reader, schemaless_writer, validation
from fastavro.read import SchemaResolutionError

from schemas.errors import DecodeError, DecodeReason, EncodeError
from schemas.registry import RegistrySchemaIds, SchemaIds, StaticSchemaIds
from schemas.schema_files import SCHEMA_DIR, fingerprint, full_name, load_schema, schema_names

__all__ = [
    "SCHEMA_DIR",
    "AvroCodec",
    "RegistrySchemaIds",
    "SchemaIds",
    "StaticSchemaIds",
    "WriterSchemas",
    "codec_for",
    "fingerprint",
    "full_name",
    "load_schema",
    "schema_names",
]

SINGLE_OBJECT_MARKER = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"

Record = dict[str, Any]
ParsedSchema = Any  # what fastavro.parse_schema returns; opaque to us


def frame_single_object(schema_fingerprint: bytes, body: bytes) -> bytes:
    return SINGLE_OBJECT_MARKER + schema_fingerprint + body


def split_single_object(value: bytes) -> tuple[bytes, int]:
    """The writer's fingerprint and where the body starts; bad headers are bad messages."""
    if not value:
        raise DecodeError(DecodeReason.EMPTY, "no bytes (a tombstone?)")
    if len(value) < 10:
        raise DecodeError(DecodeReason.SHORT_HEADER, f"{len(value)} bytes, header needs 10")
    if value[:2] != SINGLE_OBJECT_MARKER:
        raise DecodeError(DecodeReason.BAD_MAGIC, f"starts {value[:2].hex()}, expected c301")
    return value[2:10], 10


def frame_confluent(schema_id: int, body: bytes) -> bytes:
    return CONFLUENT_MAGIC + schema_id.to_bytes(4, "big") + body


def split_confluent(value: bytes) -> tuple[int, int]:
    """The writer's registry id and where the body starts."""
    if not value:
        raise DecodeError(DecodeReason.EMPTY, "no bytes (a tombstone?)")
    if len(value) < 5:
        raise DecodeError(DecodeReason.SHORT_HEADER, f"{len(value)} bytes, header needs 5")
    if value[:1] != CONFLUENT_MAGIC:
        raise DecodeError(DecodeReason.BAD_MAGIC, f"starts {value[:1].hex()}, expected 00")
    return int.from_bytes(value[1:5], "big"), 5


class WriterSchemas:
    """The writer schemas a reader may meet, by fingerprint: current and past versions."""

    def __init__(self, schemas: Iterable[Mapping[str, Any]] = ()) -> None:
        self._parsed: dict[bytes, ParsedSchema] = {}
        self._primitive: dict[bytes, ParsedSchema] = {}  # the same, logical types dropped
        for schema in schemas:
            self.add(schema)

    @classmethod
    def bundled(cls, more: Path | None = None) -> WriterSchemas:
        """The current schemas, the released ones (producers not upgraded yet write those),
        and every ``*.avsc`` in ``more`` (producers already on a newer version)."""
        found = cls(load_schema(name) for name in schema_names())
        folders = [SCHEMA_DIR / "released", *([more] if more is not None else [])]
        for folder in folders:
            for path in sorted(folder.glob("*.avsc")):
                found.add(json.loads(path.read_text()))
        return found

    def add(self, schema: Mapping[str, Any]) -> bytes:
        """Know one more writer schema (e.g. an older version); returns its fingerprint."""
        key = fingerprint(schema)
        if key not in self._parsed:
            self._parsed[key] = parse_schema(dict(schema))
            self._primitive[key] = parse_schema(primitive_only(dict(schema)))
        return key

    def get(self, schema_fingerprint: bytes, logical_types: bool = True) -> ParsedSchema | None:
        """The writer schema; without logical types for a reader that reads them as their
        primitives (the writer's logicalType would turn them back into datetimes)."""
        return (self._parsed if logical_types else self._primitive).get(schema_fingerprint)

    def __contains__(self, schema_fingerprint: object) -> bool:
        return schema_fingerprint in self._parsed


_SAME = object()  # the writer is the reader: read without resolution


class AvroCodec:
    """Encodes records of one schema; decodes values written with any known version of it.

    ``validate=True`` checks records against the schema before writing: fastavro alone
    writes 1.5 into an int field as 1 and 2**40 as a long. It roughly doubles the cost, so
    the hot path leaves it off and validates at the edges with :mod:`schemas.records`.

    ``logical_types=False`` reads and writes logical types as their primitive (a
    timestamp-millis is an int of epoch milliseconds): the bytes and the fingerprint are the
    same, and the worker's hot path saves building a datetime per event (about 2 µs here).
    """

    def __init__(
        self,
        schema: Mapping[str, Any],
        *,
        writers: WriterSchemas | None = None,
        ids: SchemaIds | None = None,
        validate: bool = False,
        logical_types: bool = True,
    ) -> None:
        self.schema = dict(schema)
        self.name = full_name(schema)
        self.fingerprint = fingerprint(schema)
        self._parsed = parse_schema(self.schema if logical_types else primitive_only(self.schema))
        self._writers = WriterSchemas.bundled() if writers is None else writers
        self._ids = ids
        self._validate = validate
        self._logical_types = logical_types
        # Confluent headers wait for the first encode: asking the registry is I/O.
        self._header = None if ids else frame_single_object(self.fingerprint, b"")
        self._writer_by_id: dict[int, Any] = {}

    def frame_header(self) -> bytes:
        """The bytes every value of this codec starts with (asks the registry once)."""
        return self._header or self._confluent_header()

    @property
    def logical_types(self) -> bool:
        """Whether timestamps decode as datetimes (True) or epoch-ms ints."""
        return self._logical_types

    def reads_without_resolution(self, header: bytes) -> bool:
        """Whether values starting with ``header`` (and nothing more of it) are written in
        this codec's own schema. Raises DecodeError for an unknown header, RegistryError
        when the registry cannot say."""
        writer, start = self._writer_of(header)
        return writer is _SAME and start == len(header)

    def encode(self, record: Mapping[str, Any]) -> bytes:
        if self._validate:
            try:
                validation.validate(record, self._parsed, raise_errors=True)
            except validation.ValidationError as exc:
                raise EncodeError(f"{self.name}: {str(exc.errors[0])[:300]}") from exc
        out = BytesIO()
        out.write(self.frame_header())
        try:
            schemaless_writer(out, self._parsed, record)
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
            raise EncodeError(f"{self.name}: {exc}") from exc
        return out.getvalue()

    def decode(self, value: bytes) -> Record:
        writer, start = self._writer_of(value)
        body = BytesIO(value)
        body.seek(start)
        try:
            if writer is _SAME:
                record = cast(Record, schemaless_reader(body, self._parsed, None))
            else:
                record = cast(Record, schemaless_reader(body, writer, self._parsed))
        except SchemaResolutionError as exc:
            detail = f"writer {writer.get('name')} cannot be read as {self.name}"
            raise DecodeError(DecodeReason.SCHEMA_MISMATCH, detail) from exc
        except Exception as exc:  # untrusted bytes: fastavro fails with many built-in types
            ran_out = isinstance(exc, EOFError | StopIteration) or body.tell() >= len(value)
            reason = DecodeReason.TRUNCATED if ran_out else DecodeReason.MALFORMED
            detail = f"{self.name} body at byte {body.tell()}: {type(exc).__name__} {exc}"
            raise DecodeError(reason, detail[:300]) from exc
        if body.tell() != len(value):
            left = len(value) - body.tell()
            raise DecodeError(DecodeReason.TRAILING_BYTES, f"{left} bytes after the record")
        return record

    def decode_many(
        self, values: Sequence[bytes]
    ) -> tuple[list[Record], list[tuple[int, DecodeError]]]:
        """Good records in input order, and (index, error) for each value that is bad.

        Never raises for a bad message; a :class:`RegistryError` still propagates, because
        an unreachable registry says nothing about the message and must not dead-letter it.
        """
        good: list[Record] = []
        bad: list[tuple[int, DecodeError]] = []
        decode = self.decode
        for index, value in enumerate(values):
            try:
                good.append(decode(value))
            except DecodeError as exc:
                bad.append((index, exc))
        return good, bad

    def _writer_of(self, value: bytes) -> tuple[Any, int]:
        header = self._header
        if self._ids is None:
            if header is not None and value[:10] == header:
                return _SAME, 10
            key, start = split_single_object(value)
            writer = self._writers.get(key, self._logical_types)
            if writer is None:
                raise DecodeError(DecodeReason.UNKNOWN_SCHEMA, f"fingerprint {key.hex()}")
            return writer, start
        schema_id, start = split_confluent(value)
        writer = self._writer_by_id.get(schema_id)
        if writer is None:
            schema = self._ids.schema_for(schema_id)
            if schema is None:
                raise DecodeError(DecodeReason.UNKNOWN_SCHEMA, f"schema id {schema_id}")
            try:
                same = fingerprint(schema) == self.fingerprint
                readable = dict(schema) if self._logical_types else primitive_only(dict(schema))
                writer = _SAME if same else parse_schema(readable)
            except Exception as exc:  # registered, but nothing fastavro can read
                detail = f"schema id {schema_id} is not a usable Avro schema: {exc}"
                raise DecodeError(DecodeReason.SCHEMA_MISMATCH, detail[:300]) from exc
            self._writer_by_id[schema_id] = writer
        return writer, start

    def _confluent_header(self) -> bytes:
        assert self._ids is not None  # only codecs with ids come here
        self._header = frame_confluent(self._ids.id_for(self.schema), b"")
        return self._header


def primitive_only(schema: Any) -> Any:
    """``schema`` with every logicalType dropped: same binary layout, plain Python values."""
    if isinstance(schema, list):
        return [primitive_only(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: primitive_only(v) for k, v in schema.items() if k != "logicalType"}
    if "logicalType" in schema and set(out) == {"type"} and isinstance(out["type"], str):
        return out["type"]
    return out


def codec_for(
    name: str,
    *,
    registry_url: str | None = None,
    registry_conf: Mapping[str, str] | None = None,
    writers: WriterSchemas | None = None,
    validate: bool = False,
    logical_types: bool = True,
) -> AvroCodec:
    """The codec for a bundled schema, framed the way the deployment is configured."""
    ids = RegistrySchemaIds.from_url(registry_url, registry_conf) if registry_url else None
    return AvroCodec(
        load_schema(name), writers=writers, ids=ids, validate=validate, logical_types=logical_types
    )
