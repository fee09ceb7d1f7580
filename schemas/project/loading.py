"""Read a project file, check it against everything it names, and build a :class:`Project`.

Every problem is a :class:`ProjectError` whose one line names the file, the line and the
key: ``examples/shop/streamscore.yaml:14: inputs[2].field: the event schema has no field
'chanel' (fields: order_id, channel, ...)``. The checks, in order: the file is there and
is YAML; its shape (schemas/project/spec.py); the event schema exists and holds every field
the project names, with a type that fits its use; the feature view, the inputs, the models
(their files, tensors that fit the inputs, decisions that fit the task), the labels, the
golden set. What needs more than the files (a trainer's import, a model's tensors on a
running Triton) is checked where it is used, and by `streamscore project check`.

A project is read once per process and file version (:func:`load_project` caches on the
path, its size and mtime).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from pydantic import ValidationError

from infra.errors import StreamScoreError
from schemas.project import avro
from schemas.project.decisions import Decider
from schemas.project.layout import InputLayout, InputPlan, compile_layout
from schemas.project.model_files import source_tensors
from schemas.project.project import Project
from schemas.project.spec import ModelSpec, ProjectSpec, ThresholdDecisions
from schemas.project.yaml_lines import YamlError, line_of
from schemas.project.yaml_lines import load as load_yaml

ENV_VAR = "STREAMSCORE_PROJECT"
FILE_NAME = "streamscore.yaml"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEFAULT_PROJECT = EXAMPLES / "fraud" / FILE_NAME

KeyPath = tuple[str | int, ...]


class ProjectError(StreamScoreError):
    """A project file that cannot be used: ``str()`` is one line with file, line and key."""

    def __init__(self, file: Path, line: int, key: str, message: str) -> None:
        where = f"{file}:{line}" if line else str(file)
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")
        self.file, self.line, self.key, self.message = file, line, key, message


def project_path(given: str | os.PathLike[str] | None = None) -> Path:
    """``given``, else ``STREAMSCORE_PROJECT``, else the bundled fraud example. A folder
    means its ``streamscore.yaml``."""
    text = given if given is not None else os.environ.get(ENV_VAR)
    path = Path(text).expanduser() if text else DEFAULT_PROJECT
    return path / FILE_NAME if path.is_dir() else path


def load_project(given: str | os.PathLike[str] | None = None) -> Project:
    """The project at ``given`` (see :func:`project_path`), checked; :class:`ProjectError`."""
    path = project_path(given).absolute()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ProjectError(path, 0, "", "no such project file") from None
    except OSError as exc:
        raise ProjectError(path, 0, "", f"cannot read it: {exc.strerror}") from None
    if not path.is_file():
        raise ProjectError(path, 0, "", "not a file")
    return _load(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _load(path: Path, _size: int, _mtime_ns: int) -> Project:
    return _Checker(path).project()


def key_of(path: KeyPath) -> str:
    """``inputs[2].field`` for ("inputs", 2, "field"); union tags (``<bands>``) dropped."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not (part.startswith("<") and part.endswith(">")):
            out += f".{part}" if out else part
    return out


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.root = path.parent
        self.lines: dict[KeyPath, int] = {}

    def fail(self, where: KeyPath, message: str) -> ProjectError:
        clean = tuple(p for p in where if not (isinstance(p, str) and p.startswith("<")))
        return ProjectError(self.path, line_of(self.lines, clean), key_of(where), message)

    def project(self) -> Project:
        raw = self.path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProjectError(self.path, 0, "", "not UTF-8 text") from None
        try:
            data, self.lines = load_yaml(text)
        except YamlError as exc:
            raise ProjectError(self.path, exc.line, key_at(text, exc.line), exc.message) from None
        if not isinstance(data, dict):
            raise ProjectError(self.path, 1, "", "a project file is a mapping of sections")
        try:
            spec = ProjectSpec.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise self.fail(tuple(first["loc"]), _message(first)) from None
        event_schema = self.event_schema(spec)
        feature_schema = self.feature_schema(spec, event_schema)
        layout = self.layout(spec, event_schema)
        for i, model in enumerate(spec.models):
            if model.task != spec.models[0].task:
                raise self.fail(
                    ("models", i, "task"),
                    f"every model of a project has the task "
                    f"of the first ({spec.models[0].task}): shadows are compared "
                    "with the primary",
                )
        deciders = {m.name: self.decider(spec, i, m) for i, m in enumerate(spec.models)}
        for i, model in enumerate(spec.models):
            self.model(spec, i, model, layout, deciders[model.name])
        self.labels(spec)
        if spec.gates.golden is not None:
            self.file(("gates", "golden"), spec.gates.golden)
        if spec.simulation is not None:
            self.simulation(spec, event_schema)
        label_schema = avro.label_schema(
            spec.labels.field, spec.labels.type, avro.namespace_of(event_schema)
        )
        released = self.released(spec)
        return Project(
            spec=spec,
            path=self.path,
            sha256=hashlib.sha256(raw).hexdigest(),
            event_schema=event_schema,
            feature_schema=feature_schema,
            label_schema=label_schema,
            released=released,
            layout=layout,
            deciders=deciders,
        )

    # -- files ---------------------------------------------------------------------------

    def file(self, where: KeyPath, relative: Path, folder: bool = False) -> Path:
        path = (self.root / relative).resolve()
        if not path.exists():
            raise self.fail(where, f"no such {'folder or ' if folder else ''}file: {path}")
        return path

    def avsc(self, where: KeyPath, relative: Path) -> dict[str, Any]:
        path = self.file(where, relative)
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
            parse_schema(schema)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.fail(where, f"{path.name} is not a JSON Avro schema: {exc}") from None
        except Exception as exc:  # fastavro raises many kinds for a bad schema
            raise self.fail(where, f"{path.name} is not a valid Avro schema: {exc}") from None
        if not isinstance(schema, dict) or schema.get("type") != "record":
            raise self.fail(where, f"{path.name} is not an Avro record schema")
        return schema

    def released(self, spec: ProjectSpec) -> tuple[dict[str, Any], ...]:
        """Older versions of the project's schemas (``released/`` beside the event schema):
        values written with them stay readable, and the compatibility check compares with
        them."""
        folder = (self.root / spec.events.schema_file).resolve().parent / "released"
        out = []
        for path in sorted(folder.glob("*.avsc")) if folder.is_dir() else []:
            try:
                out.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError) as exc:
                raise self.fail(("events", "schema"), f"{path}: not JSON: {exc}") from None
        return tuple(out)

    # -- sections ------------------------------------------------------------------------

    def event_schema(self, spec: ProjectSpec) -> dict[str, Any]:
        schema = self.avsc(("events", "schema"), spec.events.schema_file)
        fields = avro.fields_of(schema)
        e = spec.events
        for key, name, kinds in (
            ("id", e.id, {"string"}),
            ("entity", e.entity, {"string"}),
            ("time", e.time, {"long"}),
        ):
            self.field(fields, ("events", key), name, kinds, schema)
        if e.segment is not None:
            self.field(
                fields, ("events", "segment"), e.segment, {"string", "nullable-string"}, schema
            )
        for i, name in enumerate(e.attributes):
            kinds = {k for p in avro.PRIMITIVES for k in (p, f"nullable-{p}")} | {"enum"}
            self.field(fields, ("events", "attributes", i), name, kinds, schema)
        return schema

    def field(
        self,
        fields: Mapping[str, Any],
        where: KeyPath,
        name: str,
        kinds: set[str],
        schema: Mapping[str, Any],
    ) -> str:
        if name not in fields:
            names = ", ".join(fields)
            raise self.fail(
                where,
                f"the event schema {schema.get('name')} has no field {name!r} (fields: {names})",
            )
        kind = avro.kind_of(fields[name]["type"])
        if kind not in kinds:
            raise self.fail(where, f"field {name!r} is {_words(kind)}: this needs {_wanted(kinds)}")
        return kind

    def feature_schema(self, spec: ProjectSpec, event_schema: dict[str, Any]) -> dict[str, Any]:
        view = spec.features
        if view.schema_file is None:
            rows = [(f.name, f.type, f.default, f.doc) for f in view.features]
            return avro.feature_view_schema(
                view.name, view.entity, rows, avro.namespace_of(event_schema)
            )
        schema = self.avsc(("features", "schema"), view.schema_file)
        fields = avro.fields_of(schema)
        where: KeyPath = ("features", "schema")
        if avro.kind_of(fields.get(view.entity, {}).get("type")) != "string":
            raise self.fail(where, f"{view.schema_file} needs the string key field {view.entity!r}")
        for i, feature in enumerate(view.features):
            kind = avro.kind_of(fields.get(feature.name, {}).get("type"))
            if kind != feature.type:
                raise self.fail(
                    ("features", "features", i, "type"),
                    f"{view.schema_file} has {feature.name!r} as {kind}, the view "
                    f"says {feature.type}",
                )
        return schema

    def layout(self, spec: ProjectSpec, event_schema: dict[str, Any]) -> InputLayout:
        fields = avro.fields_of(event_schema)
        features = {f.name: f for f in spec.features.features}
        plans = []
        for i, item in enumerate(spec.inputs):
            at: KeyPath = ("inputs", i)
            if item.source == "feature":
                feature = features.get(item.field_name)
                if feature is None:
                    raise self.fail(
                        (*at, "field" if item.field else "name"),
                        f"the feature view {spec.features.name} has no feature "
                        f"{item.field_name!r} (features: {', '.join(features)})",
                    )
                if item.type == "categorical":
                    raise self.fail(
                        (*at, "type"),
                        "a categorical input comes from an event field; features are numbers",
                    )
                if item.default is not None:
                    raise self.fail(
                        (*at, "default"), "a feature's default is the feature view's: set it there"
                    )
                avro_type: str = feature.type
                default: Any = feature.default
            else:
                wanted = {
                    "numeric": avro.NUMBERS,
                    "boolean": {"boolean"},
                    "categorical": {"string", "enum"},
                }[item.type]
                kinds = {k for w in wanted for k in (w, f"nullable-{w}")}
                where = (*at, "field" if item.field else "name")
                avro_type = self.field(fields, where, item.field_name, kinds, event_schema)
                if item.default is None:
                    raise self.fail(
                        at,
                        f"input {item.name!r} needs a default: the value used "
                        "when its field is absent",
                    )
                default = item.default
            plans.append(self.plan(at, item, avro_type, default))
        return compile_layout(plans, [f.name for f in spec.features.features])

    def plan(self, at: KeyPath, item: Any, avro_type: str, default: Any) -> InputPlan:
        if item.type == "categorical":
            if not item.vocabulary:
                raise self.fail(
                    (*at, "vocabulary"),
                    f"categorical input {item.name!r} needs a "
                    "vocabulary: its categories, in column order",
                )
            if len(set(item.vocabulary)) != len(item.vocabulary):
                raise self.fail((*at, "vocabulary"), "a category appears twice")
            if item.unknown is None:
                raise self.fail(
                    at,
                    f"categorical input {item.name!r} needs `unknown`: the "
                    "bucket of values outside the vocabulary",
                )
            known = [*item.vocabulary, item.unknown]
            if not isinstance(default, str) or default not in known:
                raise self.fail(
                    (*at, "default"),
                    f"the default of {item.name!r} is one of its "
                    f"categories: {', '.join(dict.fromkeys(known))}",
                )
            if item.transform:
                raise self.fail((*at, "transform"), "a categorical input takes no transform")
        else:
            for key in ("vocabulary", "unknown"):
                if getattr(item, key) is not None:
                    raise self.fail((*at, key), f"only a categorical input has a {key}")
            if isinstance(default, str):
                raise self.fail((*at, "default"), f"the default of {item.name!r} is a number")
        for j, transform in enumerate(item.transform):
            if isinstance(transform, dict):
                low, high = transform["clip"]
                if low is not None and high is not None and low > high:
                    raise self.fail((*at, "transform", j), "clip needs low <= high")
        return InputPlan(
            item.name,
            item.source,
            item.field_name,
            item.type,
            avro_type,
            default,
            tuple(item.vocabulary or ()),
            item.unknown,
            item.encoding == "one_hot",
            tuple(item.transform),
        )

    def decider(self, spec: ProjectSpec, i: int, model: ModelSpec) -> Decider:
        at: KeyPath = ("models", i, "decisions")
        d = model.decisions
        classes = tuple(model.classes or ())
        if d == "none" or (d is None and model.task != "multiclass"):
            return Decider.undecided(model.task, classes)
        try:
            if model.task == "binary":
                assert isinstance(d, ThresholdDecisions)
                for name, value in d.thresholds.items():
                    if not 0 <= value <= 1:
                        raise self.fail(
                            (*at, "thresholds", name),
                            "a binary threshold is a probability in [0, 1]",
                        )
                if d.positive is not None and d.positive not in (d.default, *d.thresholds):
                    raise self.fail((*at, "positive"), f"{d.positive!r} is none of the decisions")
                return Decider.binary(
                    d.thresholds, d.default, d.positive, classes or ("negative", "positive")
                )
            if model.task == "multiclass":
                if d is None:
                    return Decider.multiclass(classes)
                if d.min_probability > 0 and d.otherwise is None:  # type: ignore[union-attr]
                    raise self.fail(
                        at,
                        "min_probability needs `otherwise`: the decision when "
                        "no class is probable enough",
                    )
                return Decider.multiclass(classes, d.min_probability, d.otherwise)  # type: ignore[union-attr]
            return Decider.regression(d.bands, d.above)  # type: ignore[union-attr]
        except ValueError as exc:
            raise self.fail(at, str(exc)) from None

    def model(
        self, spec: ProjectSpec, i: int, model: ModelSpec, layout: InputLayout, decider: Decider
    ) -> None:
        at: KeyPath = ("models", i)
        dims = model.input.dims
        if dims is not None and dims[-1:] != [layout.width]:
            raise self.fail(
                (*at, "input", "dims"),
                f"the model takes {dims} but the inputs "
                f"make {layout.width} columns ({_columns(layout)})",
            )
        out = model.output.dims
        if out is not None and (not out or not decider.fits(out[-1])):
            raise self.fail(
                (*at, "output", "dims"),
                f"a {model.task} model with "
                f"{len(decider.classes) or 1} output(s) per row cannot give {out}",
            )
        if model.source is None:
            return
        where = (*at, "source")
        path = self.file(where, model.source, folder=True)
        found = source_tensors(path)
        if found is None:
            raise self.fail(
                where,
                f"{path.name}: a model source is a TorchScript file (.pt), "
                "an ONNX file (.onnx) or a Triton model folder (config.pbtxt)",
            )
        inputs, outputs = found
        for tensor, named, kind in (
            (model.input, inputs, "input"),
            (model.output, outputs, "output"),
        ):
            if named is None:
                continue  # a TorchScript file: its tensors are checked on the server
            if tensor.name not in named:
                raise self.fail(
                    (*at, kind, "name"),
                    f"{path.name} has no {kind} tensor "
                    f"{tensor.name!r} (it has {', '.join(named) or 'none'})",
                )
        width = (inputs or {}).get(model.input.name)
        if width is not None and width != layout.width:
            raise self.fail(
                where,
                f"{path.name} takes {width} inputs per row but the inputs "
                f"make {layout.width} columns ({_columns(layout)})",
            )
        columns = (outputs or {}).get(model.output.name)
        if columns is not None and not decider.fits(columns):
            raise self.fail(
                where,
                f"{path.name} gives {columns} outputs per row; a "
                f"{model.task} model with these classes gives {decider.width}",
            )

    def labels(self, spec: ProjectSpec) -> None:
        task = spec.models[0].task
        fits = {
            "binary": {"int", "long", "boolean"},
            "multiclass": {"string", "int", "long"},
            "regression": {"double", "float", "int", "long"},
        }[task]
        if spec.labels.type not in fits:
            raise self.fail(
                ("labels", "type"),
                f"a {task} project's labels are "
                f"{' or '.join(sorted(fits))}, not {spec.labels.type}",
            )

    def simulation(self, spec: ProjectSpec, event_schema: dict[str, Any]) -> None:
        sim = spec.simulation
        assert sim is not None
        fields = avro.fields_of(event_schema)
        features = {f.name for f in spec.features.features}
        for name in sim.fields:
            if name not in fields:
                raise self.fail(("simulation", "fields", name), "no such event field")
        for name in sim.features:
            if name not in features:
                raise self.fail(("simulation", "features", name), "no such feature")
        if sim.drift is not None and sim.drift.field not in fields:
            raise self.fail(("simulation", "drift", "field"), "no such event field")


def _columns(layout: InputLayout) -> str:
    shown = ", ".join(layout.columns[:6])
    return shown + (f", ... {layout.columns[-1]}" if layout.width > 6 else "")


def _words(kind: str) -> str:
    """A field kind as a person says it: ``an optional string``, ``a double``, ``an enum``."""
    base = avro.base_kind(kind)
    article = "an" if base[0] in "aeiou" else "a"
    if kind.startswith("nullable-"):
        return f"an optional {base}"
    return (
        "something else (a record, array, map, bytes or fixed)"
        if base == "other"
        else (f"{article} {base}")
    )


def _wanted(kinds: set[str]) -> str:
    """What a set of kinds is, in words: ``a number or a boolean``, ``a string or an enum``."""
    bases = {avro.base_kind(k) for k in kinds}
    optional = any(k.startswith("nullable-") for k in kinds)
    parts = []
    if {"int", "long", "float", "double"} <= bases:
        parts.append("a number")
        bases -= {"int", "long", "float", "double"}
    parts += [_words(b) for b in sorted(bases)]
    text = " or ".join(parts)
    return text + (" (optional or not)" if optional else "")


def key_at(text: str, line: int) -> str:
    """The key path of what is written on ``line`` (1-based), by indentation: for an error
    found before the file could be read as YAML (``events.topic``)."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return ""
    path: list[str] = []
    indent = None
    for raw in reversed(lines[:line]):
        stripped = raw.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        here = len(raw) - len(stripped)
        match = re.match(r"(?:- )?([A-Za-z_][\w-]*)\s*:", stripped)
        if match and (indent is None or here < indent):
            path.append(match[1])
            indent = here
            if here == 0:
                break
    return ".".join(reversed(path))


def _message(error: Mapping[str, Any]) -> str:
    msg = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "literal_error":
        return msg.replace("Input should be", "should be")
    return msg.removeprefix("Value error, ")
