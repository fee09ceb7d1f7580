"""BACKWARD compatibility: can a reader holding the new schema read data written with the old?

StreamScore evolves schemas BACKWARD (docs/architecture.md, "Topics"): consumers upgrade
first, then producers, so every value already on a topic must resolve into the new schema.
The rules are Avro's schema resolution: a reader field the writer lacks needs a default;
removing a field is fine; a type may change only by promotion (int to long/float/double,
long to float/double, float to double, string and bytes either way); an enum may not lose
symbols unless it has a default; every branch of a writer union must find a place in the
reader. Avro ignores logical types when resolving, but timestamp-millis turned into
timestamp-micros would scale every time by a thousand without an error, so a logical type
change counts as a problem here.

Run ``python -m schemas.compat`` to check each schemas/*.avsc against the version last
released, kept in schemas/released/ (copy the files there when a release ships), or
``--against REV`` to check against a git revision instead.

It also checks every example project (examples/*/streamscore.yaml; ``--project PATH`` names
others): the project's event schema, its feature schema when it names a file, and the label
schema it generates, each against the file of the same record full name in the
``released/`` folder beside the project's event schema. A released file whose record the
project no longer has is a problem too: its data would have no reader. With ``--against``
the project's schema files are checked against that revision; the generated label schema has
no file, so it is still checked against ``released/``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastavro import parse_schema

from schemas.project import EXAMPLES, ProjectError, load_project
from schemas.schema_files import full_name

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})
# (writer type, reader type) pairs that Avro resolution converts.
PROMOTIONS = frozenset(
    {
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    }
)

Node = Any  # a normalized schema: a primitive name, a full-name reference, a list or a dict


def _qualify(name: str, namespace: str | None) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _normalize(schema: Any, namespace: str | None, names: dict[str, Node]) -> Node:
    """Full names everywhere and every named type in ``names``, so references can be followed."""
    if isinstance(schema, str):
        return schema if schema in PRIMITIVES else _qualify(schema, namespace)
    if isinstance(schema, list):
        return [_normalize(branch, namespace, names) for branch in schema]
    kind = schema["type"]
    if not isinstance(kind, str) or kind not in PRIMITIVES | NAMED | {"array", "map"}:
        return _normalize(kind, namespace, names)  # {"type": {...}} or {"type": "Name"}
    if kind in PRIMITIVES:
        logical = schema.get("logicalType")
        return {"type": kind, "logicalType": logical} if logical else kind
    if kind == "array":
        return {"type": kind, "items": _normalize(schema["items"], namespace, names)}
    if kind == "map":
        return {"type": kind, "values": _normalize(schema["values"], namespace, names)}
    full = _qualify(schema["name"], schema.get("namespace", namespace))
    inner = full.rpartition(".")[0] or None
    node = {**schema, "name": full}
    node["aliases"] = [_qualify(a, inner) for a in schema.get("aliases", [])]
    names[full] = node
    if kind in ("record", "error"):
        node["fields"] = [
            {**field, "type": _normalize(field["type"], inner, names)} for field in schema["fields"]
        ]
    return node


def _kind(node: Node) -> str:
    return node if isinstance(node, str) else node["type"]


def _logical(node: Node) -> str | None:
    return node.get("logicalType") if isinstance(node, dict) else None


class _Checker:
    def __init__(self, reader: Any, writer: Any) -> None:
        self.reader_names: dict[str, Node] = {}
        self.writer_names: dict[str, Node] = {}
        self.problems: list[str] = []
        self._seen: set[tuple[str, str]] = set()  # record pairs already checked: recursion
        r = _normalize(reader, None, self.reader_names)
        w = _normalize(writer, None, self.writer_names)
        root = r.get("name", "<root>") if isinstance(r, dict) else "<root>"
        self.check(r, w, root.rpartition(".")[2])

    def _deref(self, node: Node, names: dict[str, Node], path: str) -> Node:
        if isinstance(node, str) and node not in PRIMITIVES:
            if node not in names:
                self.problems.append(f"{path}: unknown type {node}")
                return "null"
            return names[node]
        return node

    def _same_name(self, r: Node, w: Node) -> bool:
        return bool(r["name"] == w["name"] or w["name"] in r["aliases"])

    def matches(self, r: Node, w: Node) -> bool:
        """Avro's union-branch match: same kind and name, or a promotion."""
        if isinstance(r, str):
            r = self.reader_names.get(r, r)
        if isinstance(w, str):
            w = self.writer_names.get(w, w)
        rk, wk = _kind(r), _kind(w)
        if rk in NAMED and wk in NAMED:
            return rk == wk and self._same_name(r, w)
        return rk == wk or (wk, rk) in PROMOTIONS

    def check(self, r: Node, w: Node, path: str) -> None:
        r, w = self._deref(r, self.reader_names, path), self._deref(w, self.writer_names, path)
        if isinstance(w, list):
            for branch in w:
                self.check(r, branch, path)
            return
        if isinstance(r, list):
            ranked = [b for b in r if self.matches(b, w) and _kind(b) == _kind(w)]
            ranked += [b for b in r if self.matches(b, w)]
            if not ranked:
                self.problems.append(f"{path}: writer type {_describe(w)} not in reader union")
            else:
                self.check(ranked[0], w, path)
            return
        rk, wk = _kind(r), _kind(w)
        if rk != wk:
            if (wk, rk) not in PROMOTIONS:
                self.problems.append(f"{path}: type {wk} became {rk}, not an Avro promotion")
            elif _logical(r) or _logical(w):
                self.problems.append(f"{path}: {_describe(w)} became {_describe(r)}")
            return
        if _logical(r) != _logical(w):
            self.problems.append(f"{path}: logical type {_logical(w)} became {_logical(r)}")
        if rk in NAMED and not self._same_name(r, w):
            self.problems.append(f"{path}: {rk} {w['name']} became {r['name']} without an alias")
        elif rk in ("record", "error"):
            self._check_record(r, w, path)
        elif rk == "enum":
            lost = [s for s in w["symbols"] if s not in r["symbols"]]
            if lost and "default" not in r:
                self.problems.append(f"{path}: enum symbols removed without a default: {lost}")
        elif rk == "fixed" and r["size"] != w["size"]:
            self.problems.append(f"{path}: fixed size {w['size']} became {r['size']}")
        elif rk == "array":
            self.check(r["items"], w["items"], f"{path}[]")
        elif rk == "map":
            self.check(r["values"], w["values"], f"{path}{{}}")

    def _check_record(self, r: Node, w: Node, path: str) -> None:
        if (r["name"], w["name"]) in self._seen:
            return
        self._seen.add((r["name"], w["name"]))
        written = {field["name"]: field for field in w["fields"]}
        for field in r["fields"]:
            candidates = [field["name"], *field.get("aliases", [])]
            source = next((written[n] for n in candidates if n in written), None)
            if source is not None:
                self.check(field["type"], source["type"], f"{path}.{field['name']}")
            elif "default" not in field:
                self.problems.append(f"{path}.{field['name']}: field added without a default")


def _describe(node: Node) -> str:
    if isinstance(node, dict):
        return node.get("name") or node.get("logicalType") or node["type"]
    return str(node)


def check_backward(reader_schema: Any, writer_schema: Any) -> list[str]:
    """Problems that stop a reader with ``reader_schema`` reading ``writer_schema`` data."""
    return list(dict.fromkeys(_Checker(reader_schema, writer_schema).problems))  # once each


def committed_schema(path: Path, rev: str = "HEAD") -> Any | None:
    """The schema file as committed at ``rev``, or None if git does not have it there."""
    try:
        shown = subprocess.run(
            ["git", "show", f"{rev}:./{path.name}"],
            cwd=path.parent,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:  # no git on this machine: nothing committed to compare with
        return None
    return json.loads(shown.stdout) if shown.returncode == 0 else None


RELEASED = Path(__file__).resolve().parent / "released"


def released_schema(path: Path, released: Path = RELEASED) -> Any | None:
    """The schema as last released (``released/<name>.avsc``), or None if never released."""
    kept = released / path.name
    return json.loads(kept.read_text(encoding="utf-8")) if kept.exists() else None


def check_file(
    path: Path, rev: str | None = None, released: Path = RELEASED
) -> tuple[str, list[str]]:
    """(what it was checked against, problems) for one .avsc file: against its released
    version, or with ``rev`` against that git revision."""
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
        parse_schema(current)
    except Exception as exc:  # invalid JSON, or fastavro refusing the schema
        return "nothing", [f"does not parse: {exc}"]
    baseline = "the released version" if rev is None else rev
    try:
        previous = released_schema(path, released) if rev is None else committed_schema(path, rev)
    except json.JSONDecodeError as exc:
        return baseline, [f"{baseline} does not parse: {exc}"]
    if previous is None:
        never = "never released" if rev is None else "not committed yet"
        return f"itself ({never})", check_backward(current, current)
    return baseline, check_backward(current, previous)


def example_projects(examples: Path = EXAMPLES) -> list[Path]:
    """The project files of the bundled examples."""
    return sorted(examples.glob("*/streamscore.yaml"))


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is under it."""
    try:
        return str(Path(path).absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _released_by_name(folder: Path) -> tuple[dict[str, tuple[Path, Any]], list[str]]:
    """The released schemas in ``folder`` by record full name, and problems reading them."""
    found: dict[str, tuple[Path, Any]] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.avsc")) if folder.is_dir() else []:
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
            found[full_name(schema)] = (path, schema)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"released/{path.name} does not parse: {exc}")
    return found, problems


def check_project(path: Path, rev: str | None = None) -> list[tuple[str, str, list[str]]]:
    """(which schema, what it was checked against, problems) for each schema of the project
    at ``path``: the event schema, the feature schema if the project names its file, and the
    generated label schema, against the ``released/`` file of the same record full name (or,
    with ``rev``, a schema file against that git revision)."""
    try:
        project = load_project(path)
    except ProjectError as exc:
        return [(_shown(path), "nothing", [f"does not load: {exc}"])]
    shown = _shown(project.path)
    spec = project.spec
    event_file = project.resolve(spec.events.schema_file)
    released, problems = _released_by_name(event_file.parent / "released")
    feature_file = spec.features.schema_file
    schemas: list[tuple[str, Any, Path | None]] = [
        ("event", project.event_schema, event_file),
        *(
            [("entity_features", project.feature_schema, project.resolve(feature_file))]
            if feature_file is not None
            else []
        ),
        ("label", project.label_schema, None),
    ]
    out: list[tuple[str, str, list[str]]] = []
    current: set[str] = set()
    for role, schema, file in schemas:
        name = full_name(schema)
        current.add(name)
        source = _shown(file) if file is not None else "generated"
        what = f"{shown}: {role} schema {name} ({source})"
        if rev is not None and file is not None:
            out.append((what, *check_file(file, rev)))
        elif name in released:
            kept, previous = released[name]
            baseline = f"the released version ({kept.name})"
            out.append((what, baseline, check_backward(schema, previous)))
        else:
            out.append((what, "itself (never released)", check_backward(schema, schema)))
    problems += [
        f"released/{kept.name}: {name} is none of the project's current schemas"
        for name, (kept, _) in released.items()
        if name not in current
    ]
    if problems:
        out.append((f"{shown}: released schemas", "the project's schemas", problems))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.compat", description=__doc__)
    parser.add_argument("files", nargs="*", type=Path, help="default: every schemas/*.avsc")
    parser.add_argument(
        "--against", default=None, help="git revision of the old schemas (default: released/)"
    )
    parser.add_argument(
        "--project",
        action="append",
        type=Path,
        default=None,
        help="a project file or folder to check (repeatable); default without files: every "
        "example project",
    )
    args = parser.parse_args(argv)
    files = args.files
    projects = args.project or []
    if not files and not projects:
        files = sorted(Path(__file__).resolve().parent.glob("*.avsc"))
        projects = example_projects()
    checks = [(str(path), *check_file(path, args.against)) for path in files]
    for project in projects:
        checks += check_project(project, args.against)
    failed = False
    for what, baseline, problems in checks:
        for problem in problems:
            print(f"{what}: {problem}", file=sys.stderr)
        failed = failed or bool(problems)
        print(f"{what}: {'INCOMPATIBLE' if problems else 'ok'}, checked against {baseline}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
