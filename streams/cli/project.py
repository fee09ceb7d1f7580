"""`--project PATH` on every command, `streamscore project check` and `streamscore init`.

Every command reads the project (docs/project.md) from ``--project PATH`` or
``STREAMSCORE_PROJECT``, the bundled fraud example by default. :func:`with_project` gives
each command the option and checks the file before the command starts: a project that does
not load is one line naming the file, the line and the key, exit status 2, and nothing
started. `project check` checks more (the trainer imports, the models' tensors on a running
Triton) and prints what will be scored.
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from schemas.project import ENV_VAR, EXAMPLES, Project, ProjectError, load_project
from streams.cli.common import error, out

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        help="The project file or its folder (env STREAMSCORE_PROJECT); default: the bundled "
        "fraud example.",
        show_default=False,
    ),
]
UNCHECKED = {"init", "down", "check"}  # commands that run without a usable project


def use(project: Path | None) -> None:
    """Make ``project`` this process's (and its children's) project."""
    if project is not None:
        os.environ[ENV_VAR] = str(project.expanduser().resolve())


_DECISIONS = "decisions are the project's now: models[].decisions in streamscore.yaml"
RETIRED = {
    "STREAMSCORE_REVIEW_THRESHOLD": _DECISIONS,
    "STREAMSCORE_DECLINE_THRESHOLD": _DECISIONS,
    "STREAMSCORE_DEFAULT_MODEL": (
        "the model is the project's now: models[0].name in streamscore.yaml (the primary is "
        "stored routing: `models promote`)"
    ),
}  # settings a project file replaced: set, they would be silently ignored


def retired_setting(environ: Mapping[str, str]) -> str | None:
    """One line naming a setting that is set but no longer read, and where it went."""
    for name, moved in RETIRED.items():
        if name in environ:
            return f"{name} is set but no longer read: {moved} (docs/project.md)"
    return None


def refuse_retired() -> None:
    """Exit 2 with the one line when a retired setting is set."""
    problem = retired_setting(os.environ)
    if problem is not None:
        error(problem)
        raise typer.Exit(2)


def loaded() -> Project:
    """The project, or exit 2 with its one-line error (or a retired setting's)."""
    refuse_retired()
    try:
        return load_project()
    except ProjectError as exc:
        error(exc)
        raise typer.Exit(2) from None


def trainer_problem(project: Project) -> str | None:
    """Why the project's trainer does not import, as one line with its file, line and key;
    None when it does."""
    try:
        project.trainer()
    except Exception as exc:  # an import of user code can fail in any way
        line = _line_of(project, ("retraining", "trainer"))
        return (
            f"{project.path}:{line}: retraining.trainer: {project.spec.retraining.trainer} "
            f"does not import: {type(exc).__name__}: {exc}"
        )
    return None


def with_trainer() -> Project:
    """The project, its trainer imported; else exit 2 with the one line (commands that train:
    `up`, `retrain worker`, `demo`)."""
    project = loaded()
    problem = trainer_problem(project)
    if problem is not None:
        error(problem)
        raise typer.Exit(2)
    return project


def with_project(callback: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``callback`` with a ``--project`` option, the project checked before it runs."""
    signature = inspect.signature(callback, eval_str=True)
    if "project" in signature.parameters:
        return callback

    @functools.wraps(callback)
    def run(*args: Any, project: Path | None = None, **kwargs: Any) -> Any:
        use(project)
        if name not in UNCHECKED:
            loaded()
        elif name == "check":
            refuse_retired()
        return callback(*args, **kwargs)

    option = inspect.Parameter(
        "project", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ProjectOption
    )
    params = [*signature.parameters.values(), option]
    run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    return run


def add_project_option(app: typer.Typer) -> None:
    """Give every command of ``app`` (and its groups) the ``--project`` option."""
    for info in app.registered_commands:
        if info.callback is not None:
            command = info.name or info.callback.__name__.replace("_", "-")
            info.callback = with_project(info.callback, command)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            add_project_option(group.typer_instance)


project_cli = typer.Typer(help="Check a project file and what it names.")


@project_cli.command()
def check(
    project: ProjectOption = None,
    triton_url: Annotated[
        str | None, typer.Option(help="Triton gRPC address (env STREAMSCORE_TRITON_GRPC_URL).")
    ] = None,
) -> None:
    """Validate the project file and everything it names (the schema and its fields, the
    trainer's import, and, when Triton is up, every model's tensors), then print what will
    be scored. Exit 2 on the first problem, with its file, line and key."""
    use(project)
    spec = loaded()
    problems = [p for p in [trainer_problem(spec)] if p is not None]
    _show(spec)
    problems += _check_triton(spec, triton_url)
    for problem in problems:
        error(problem)
    if problems:
        raise typer.Exit(2)
    out.print("[green]ok[/green]: the project and everything it names check out")


def _line_of(project: Project, path: tuple[str, ...]) -> int:
    from schemas.project.yaml_lines import line_of
    from schemas.project.yaml_lines import load as load_yaml

    _, lines = load_yaml(project.path.read_text())
    return line_of(lines, path)


def _show(project: Project) -> None:
    spec = project.spec
    e, view = spec.events, spec.features
    out.print(
        f"project [bold]{project.name}[/bold] ({project.path})"
        + (f": {spec.description}" if spec.description else "")
    )
    out.print(
        f"events    topic {e.topic!r}, schema {project.event_schema.get('name')} "
        f"({e.schema_file}); id {e.id}, entity {e.entity}, time {e.time}"
        + (f", segment {e.segment}" if e.segment else "")
        + (f", passed through: {', '.join(e.attributes)}" if e.attributes else "")
    )
    ttl = "none" if view.ttl is None else duration(view.ttl)
    out.print(
        f"features  view {view.name}: {len(view.features)} features, key "
        f"{project.key_prefix}<{view.entity}>, ttl {ttl}, topic {view.topic!r}"
    )
    table = Table(
        "#",
        "column",
        "from",
        title=f"inputs: {project.layout.width} columns, in order",
        title_justify="left",
    )
    for i, (columns, where) in enumerate(project.layout.describe(), 1):
        table.add_row(str(i), columns, where)
    out.print(table)
    from inference.contract import tensors_of

    for i, model in enumerate(spec.models):
        t = tensors_of(project, model.name)
        classes = f" ({', '.join(model.classes)})" if model.classes else ""
        first = str(model.source) if model.source else "trained at `up` by the trainer"
        out.print(
            f"{'models' if i == 0 else '':<9} {model.name}: {model.task}{classes}; "
            f"{t.input} [-1, {t.width}] → {t.output} [-1, {t.columns}]; version 1 "
            f"{first}"
        )
        out.print(f"{'':<9} decisions: {project.decider(model.name).describe()}")
    labels = spec.labels
    out.print(f"labels    topic {labels.topic!r}, field {labels.field} ({labels.type})")
    out.print(
        f"trainer   {spec.retraining.trainer}"
        + (f" with {spec.retraining.params}" if spec.retraining.params else "")
    )


def _check_triton(project: Project, url: str | None) -> list[str]:
    """Every version of the project's models that Triton serves, against the inputs."""
    from inference.contract import tensors_of
    from inference.triton_client import mismatch
    from streams.cli.common import given
    from streams.worker.settings import WorkerSettings

    settings = WorkerSettings(**given(triton={"grpc_url": url}))
    client = settings.triton.client()
    try:
        if not client.is_server_ready(client_timeout=2):
            raise ConnectionError("not ready")
        index = client.get_model_repository_index()
    except Exception as exc:  # not running: nothing to compare with, not a problem
        out.print(
            f"triton    {settings.triton.grpc_url} not reachable ({type(exc).__name__}): "
            "tensors not checked on the server"
        )
        client.close()
        return []
    problems: list[str] = []
    fits: list[str] = []
    names = {m.name for m in project.spec.models}
    try:
        for m in index.models:
            if m.name not in names or m.state != "READY" or not m.version:
                continue
            label = f"{m.name}:{m.version}"
            metadata = client.get_model_metadata(m.name, m.version)
            problem = mismatch(label, tensors_of(project, m.name), metadata)
            (problems if problem else fits).append(problem or label)
    finally:
        client.close()
    if fits:
        out.print(f"triton    fits the inputs: {', '.join(fits)}")
    return problems


def init(
    folder: Annotated[Path, typer.Argument(help="Where to write the project (new or empty).")],
    example: Annotated[
        str, typer.Option(help="The example to start from: " + ", ".join(_examples()) + ".")
    ] = "fraud",
) -> None:
    """Write a working project to FOLDER, from one of the bundled examples: its
    streamscore.yaml, its event schema, its sample files, its trainer and (fraud) its generator."""
    source = EXAMPLES / example
    if example not in _examples():
        raise typer.BadParameter(f"no example {example!r}: one of {', '.join(_examples())}")
    if folder.exists() and any(folder.iterdir()):
        error(f"{folder} is not empty: choose a new folder")
        raise typer.Exit(1)
    shutil.copytree(
        source, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    out.print(f"wrote the {example} example to {folder}:")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        out.print(f"  {path.relative_to(folder)}")
    out.print(f"next: streamscore project check --project {folder}")


def duration(seconds: float) -> str:
    """``30m``, ``2d``, ``90s``: as the project file writes a duration."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _examples() -> list[str]:
    return sorted(p.parent.name for p in EXAMPLES.glob("*/streamscore.yaml"))


def register(cli: typer.Typer) -> None:
    cli.command()(init)
    cli.add_typer(project_cli, name="project")
