"""Adding a version to the model repository: its files, its card, its reference distributions.

Every way a version arrives goes through here, so that each one has a card that says where
it came from and, when rows are at hand, the reference distributions drift is judged
against: a model the retraining worker trained (:func:`ship_trained`), a starter trained on
simulated events, and a file trained elsewhere (:func:`ship_file`, `streamscore models add`).
A file is refused in one line when its tensors do not fit the project's inputs (checked by
running it on a row of zeros where it can be run here).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from drift.reference import Reference
from inference import card as cards
from inference.contract import Tensors, tensors_of
from inference.repository import ModelRepository, RepositoryError, ServingConfig
from inference.trainer import LocalModel, TrainedModel, onnx_bytes
from schemas.project import Project
from schemas.project.model_files import source_tensors


def project_ref(project: Project) -> cards.ProjectRef:
    return cards.ProjectRef(name=project.name, sha256=project.sha256)


def reference_for(project: Project, model: str, local: LocalModel, x: np.ndarray) -> Reference:
    """The reference distributions of a model from rows ``x`` and its scores on them."""
    scores = project.decider(model).scores(local.predict(x))
    return Reference.build(x, scores, project.layout.columns)


def ship_trained(
    project: Project,
    repo: ModelRepository,
    name: str,
    trained: TrainedModel,
    x: np.ndarray | None,
    card: cards.ModelCard,
    serving: ServingConfig = ServingConfig(),
) -> int:
    """Export a trained model as the next version of ``name``, its reference from rows
    ``x`` (its training rows; None: no reference)."""
    tensors = tensors_of(project, name)
    if trained.format == "onnx":  # the graph's tensors take the project's names
        renamed = rename_onnx(onnx_bytes(trained.model), trained.input, trained.output, tensors)
        trained = TrainedModel(renamed, "onnx", trained.metrics, tensors.input, tensors.output)
    reference = None
    if x is not None and len(x):
        reference = reference_for(project, name, LocalModel.of(trained), x)
    return repo.export(trained, name, tensors, card=card, reference=reference, serving=serving)


def rename_onnx(model: bytes, input_name: str, output_name: str, tensors: Tensors) -> bytes:
    """The ONNX graph with its input ``input_name`` and output ``output_name`` renamed to
    the project's tensors' names (every node that reads or writes them follows)."""
    import onnx

    proto = onnx.load_from_string(model)
    names = {input_name: tensors.input, output_name: tensors.output}
    names = {old: new for old, new in names.items() if old != new}
    if not names:
        return model
    graph = proto.graph
    if output_name not in {o.name for o in graph.output}:
        raise RepositoryError(f"the trained ONNX graph has no output {output_name!r}")
    for value in (*graph.input, *graph.output):
        value.name = names.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
    return bytes(proto.SerializeToString())


def onnx_roles(
    inputs: Mapping[str, int | None], outputs: Mapping[str, int | None], tensors: Tensors
) -> tuple[str | None, str | None]:
    """The graph's input and output that play the project's: the ones of the project's names,
    else the graph's only one (an exporter's own names, such as skl2onnx's ``X`` and
    ``variable``); None where neither is found."""

    def role(graph: Mapping[str, int | None], wanted: str) -> str | None:
        if wanted in graph:
            return wanted
        return next(iter(graph)) if len(graph) == 1 else None

    return role(inputs, tensors.input), role(outputs, tensors.output)


def check_file(project: Project, name: str, path: Path) -> str | None:
    """Why model file ``path`` cannot be ``name``'s next version, in one line; None if it
    fits. An ONNX graph and a Triton folder's config are read; a TorchScript file is run on
    a row of zeros of the project's width."""
    tensors = tensors_of(project, name)
    found = source_tensors(path)
    if found is None:
        return (
            f"{path}: not a TorchScript file (.pt), an ONNX file (.onnx) or a Triton model folder"
        )
    inputs, outputs = found
    decider = project.decider(name)
    if path.suffix == ".onnx" and inputs is not None and outputs is not None:
        graph_input, graph_output = onnx_roles(inputs, outputs, tensors)
        inputs = {tensors.input: inputs[graph_input]} if graph_input else inputs
        outputs = {tensors.output: outputs[graph_output]} if graph_output else outputs
    width = None if inputs is None else inputs.get(tensors.input, -1)
    if inputs is not None and width == -1:
        return (
            f"{path.name} has no input tensor {tensors.input!r} (it has "
            f"{', '.join(inputs) or 'none'}): the project's models take {tensors.input}"
        )
    columns = None if outputs is None else outputs.get(tensors.output, -1)
    if outputs is not None and columns == -1:
        return (
            f"{path.name} has no output tensor {tensors.output!r} (it has "
            f"{', '.join(outputs) or 'none'})"
        )
    if path.suffix == ".pt":
        try:
            out = LocalModel.file(path).predict(np.zeros((2, tensors.width), dtype=np.float32))
        except Exception as exc:  # torch raises many kinds for a shape that does not fit
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            return (
                f"{path.name} cannot take rows of {tensors.width} inputs (the project's "
                f"{tensors.input} [-1, {tensors.width}]): {first[:200]}"
            )
        width, columns = tensors.width, out.shape[1]
    if width is not None and width != tensors.width:
        return (
            f"{path.name} takes {tensors.input} [-1, {width}] but the project's inputs make "
            f"{tensors.input} [-1, {tensors.width}]"
        )
    if columns is not None and not decider.fits(columns):
        return (
            f"{path.name} gives {tensors.output} [-1, {columns}]; a {decider.task} model "
            f"of this project gives [-1, {decider.width}]"
        )
    return None


def ship_file(
    project: Project,
    repo: ModelRepository,
    name: str,
    path: Path,
    sample_x: np.ndarray | None,
    serving: ServingConfig = ServingConfig(),
    created_at: int | None = None,
) -> int:
    """Add model file (or Triton folder) ``path`` as the next version of ``name``, with a
    card naming the file and its sha256 and the project's hash, and its reference from
    ``sample_x`` (rows of recent events; None: no reference). RepositoryError if it does not
    fit (:func:`check_file`)."""
    problem = check_file(project, name, path)
    if problem is not None:
        raise RepositoryError(problem)
    tensors = tensors_of(project, name)
    with tempfile.TemporaryDirectory(prefix="streamscore-add-") as tmp:
        model_file = path if path.suffix in (".pt", ".onnx") else None
        if path.suffix == ".onnx":  # the graph's tensors take the project's names
            model_file = Path(tmp) / path.name
            model_file.write_bytes(_renamed_onnx(path, tensors))
        reference = None
        if sample_x is not None and len(sample_x) and model_file is not None:
            local = LocalModel.file(model_file, tensors.output)
            reference = reference_for(project, name, local, sample_x)
        card = cards.ModelCard(
            created_at=created_at or cards.now_ms(),
            source=cards.FileSource(path=str(path.resolve()), sha256=cards.sha256_of(path)),
            feature_layout=project.layout.hash,
            metrics={},
            code=cards.code_version(),
            project=project_ref(project),
        )
        source = model_file if model_file is not None else path
        return repo.add_file(source, name, tensors, card=card, reference=reference,
                             serving=serving)  # fmt: skip


def _renamed_onnx(path: Path, tensors: Tensors) -> bytes:
    """ONNX file ``path`` with its input and output named as the project's."""
    model = path.read_bytes()
    found = source_tensors(path)
    if found is None or found[0] is None or found[1] is None:
        return model  # not readable as ONNX here: Triton refuses it with its own words
    graph_input, graph_output = onnx_roles(found[0], found[1], tensors)
    if graph_input is None or graph_output is None:
        return model
    return rename_onnx(model, graph_input, graph_output, tensors)
