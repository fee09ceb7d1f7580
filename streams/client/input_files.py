"""Records from JSON Lines and CSV files, every one checked before anything is sent.

A CLI given bad input sends nothing of it (docs/architecture.md, "Bad input"). So a file is
read and validated whole, and every problem is collected as (line, field, message) instead
of stopping at the first, so that one run tells the user everything to fix. Lines are
1-based lines of the file; in a CSV file the header is line 1 and a quoted cell may span
lines (a record's line is where it starts).

CSV cells are text. They are converted by the Avro type of their field (int, long, double,
boolean, optional, timestamp) before the strict pydantic models see them, so that "12" in
an int column is 12 but "12.5" is an error naming its line and column; nested fields (a
record, map or array) are written as JSON inside the cell. An empty cell means "absent":
null for an optional field, the default where there is one, else a missing field.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from pydantic import ValidationError

from schemas.codec import full_name, load_schema
from schemas.project import Project
from schemas.project.records import record_model
from schemas.records import RECORD_TYPES, AvroRecord, to_avro

PROJECT_ROLES = ("event", "label", "entity_features")

InputFormat = Literal["jsonl", "csv"]
_BY_SUFFIX: dict[str, InputFormat] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One thing wrong with the input; ``field`` is None when the whole line is wrong."""

    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, field '{self.field}'" if self.field else f"line {self.line}"
        return f"{where}: {self.message}"


@dataclass(slots=True)
class LoadedInput:
    """Valid records as the codec writes them, and every problem found; send only if none."""

    records: list[dict[str, Any]] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)


def format_of(path: Path, given: InputFormat | None) -> InputFormat:
    """``given`` if any, else from the file's suffix; ``-`` (stdin) defaults to JSON Lines."""
    if given is not None:
        return given
    if str(path) == "-":
        return "jsonl"
    try:
        return _BY_SUFFIX[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"cannot tell the format of {path.name}: pass --format") from None


def validation_problems(exc: ValidationError) -> list[tuple[str | None, str]]:
    """(field, message) per pydantic error; a nested field reads ``timings.infer_ms``."""
    out = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"])
        out.append((loc or None, error["msg"]))
    return out


def schema_and_model(
    schema: str, project: Project | None
) -> tuple[dict[str, Any], type[AvroRecord]]:
    """The Avro schema and the validator of ``schema``: one of the project's (``event``,
    ``label``, ``entity_features``) or a bundled one."""
    if schema in PROJECT_ROLES:
        if project is None:
            raise ValueError(f"{schema} records are the project's: pass the project")
        return project.schema(schema), record_model(project, schema)
    avro = load_schema(schema)
    return avro, RECORD_TYPES[full_name(avro)]


def load(
    stream: TextIO, fmt: InputFormat, project: Project | None = None, schema: str = "event"
) -> LoadedInput:
    """Read and validate the whole of ``stream`` against ``schema`` (the project's events,
    labels or feature updates, or a bundled schema by name)."""
    avro, model = schema_and_model(schema, project)
    rows = _jsonl_rows(stream) if fmt == "jsonl" else _csv_rows(stream, avro)
    loaded = LoadedInput()
    for line, row, problems in rows:
        loaded.problems.extend(problems)
        if row is None:
            continue
        try:
            record = model.model_validate(row)
        except ValidationError as exc:
            done = {p.field for p in problems}  # a bad cell already said what is wrong
            loaded.problems.extend(
                InputProblem(line, name, message)
                for name, message in validation_problems(exc)
                if name not in done
            )
            continue
        if not problems:
            loaded.records.append(to_avro(record))
    return loaded


Row = tuple[int, dict[str, Any] | None, list[InputProblem]]


def _jsonl_rows(stream: TextIO) -> Iterator[Row]:
    for line, text in enumerate(stream, start=1):
        if not text.strip():
            continue  # a blank line (often the last) is no record
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            message = f"not valid JSON: {exc.msg} (column {exc.colno})"
            yield line, None, [InputProblem(line, None, message)]
            continue
        if not isinstance(row, dict):
            kind = type(row).__name__
            yield line, None, [InputProblem(line, None, f"expected a JSON object, got {kind}")]
            continue
        yield line, row, []


Converter = Callable[[str], Any]


def _csv_rows(stream: TextIO, schema: dict[str, Any]) -> Iterator[Row]:
    fields = {f["name"]: f for f in schema["fields"]}
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        yield 1, None, [InputProblem(1, None, f"bad CSV header: {exc}")]
        return
    if header is None:
        return
    header = [name.strip() for name in header]
    header_problems = _header_problems(header, fields)
    if header_problems:
        yield 1, None, header_problems  # every row would repeat these: fix the header first
        return
    converters = {name: _converter(fields[name]["type"]) for name in header}
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, None, [InputProblem(line, None, f"bad CSV: {exc}")]
            return  # the reader cannot resynchronise after a broken quote
        start, line = line, reader.line_num + 1
        if not cells:
            continue
        if len(cells) != len(header):
            message = f"{len(cells)} cells, the header has {len(header)}"
            yield start, None, [InputProblem(start, None, message)]
            continue
        row: dict[str, Any] = {}
        problems = []
        for name, cell in zip(header, cells, strict=True):
            if cell == "":
                if _is_optional(fields[name]["type"]):
                    row[name] = None
                continue  # absent: the model applies the default or reports it missing
            try:
                row[name] = converters[name](cell)
            except ValueError as exc:
                problems.append(InputProblem(start, name, str(exc)))
        yield start, row, problems


def _header_problems(header: list[str], fields: dict[str, Any]) -> list[InputProblem]:
    problems = [InputProblem(1, n, "unknown column") for n in header if n not in fields]
    problems += [
        InputProblem(1, n, "column appears twice") for n in set(header) if header.count(n) > 1
    ]
    problems += [
        InputProblem(1, n, "required column is missing")
        for n, f in fields.items()
        if n not in header and "default" not in f
    ]
    return problems


def _is_optional(avro_type: Any) -> bool:
    return isinstance(avro_type, list) and "null" in avro_type


def _converter(avro_type: Any) -> Converter:
    """Text to the Python value the pydantic model expects for this Avro type."""
    if isinstance(avro_type, list):  # a union: this project only uses ["null", T]
        branches = [t for t in avro_type if t != "null"]
        return _converter(branches[0]) if len(branches) == 1 else _json_cell
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") in ("timestamp-millis", "timestamp-micros"):
            return _time_cell
        if avro_type["type"] in ("record", "map", "array"):
            return _json_cell
        return _converter(avro_type["type"])
    return _PRIMITIVES.get(avro_type, str)


def _int_cell(cell: str) -> int:
    try:
        return int(cell.strip())
    except ValueError:
        raise ValueError(f"expected an integer, got {cell!r}") from None


def _float_cell(cell: str) -> float:
    try:
        return float(cell.strip())
    except ValueError:
        raise ValueError(f"expected a number, got {cell!r}") from None


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _bool_cell(cell: str) -> bool:
    text = cell.strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(f"expected true or false, got {cell!r}")


def _time_cell(cell: str) -> int | str:
    """Epoch milliseconds if the cell is an integer, else the text for the ISO-8601 parser."""
    text = cell.strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _json_cell(cell: str) -> Any:
    try:
        return json.loads(cell)
    except json.JSONDecodeError as exc:
        raise ValueError(f"expected JSON in this cell: {exc.msg}") from None


_PRIMITIVES: dict[str, Converter] = {
    "int": _int_cell,
    "long": _int_cell,
    "float": _float_cell,
    "double": _float_cell,
    "boolean": _bool_cell,
    "string": str,
}
