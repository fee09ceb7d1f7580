"""Adding a model file trained elsewhere (inference/shipping.py): an ONNX graph exported with
its exporter's own tensor names is served under the project's, and a graph whose input or
output cannot be told apart is refused in one line before anything is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from skl2onnx import to_onnx
from sklearn.linear_model import LinearRegression

from inference.contract import tensors_of
from inference.repository import ModelRepository, RepositoryError
from inference.shipping import check_file, onnx_roles, ship_file
from schemas.project import load_project
from tests.support.projects import EXAMPLES

DELIVERY = load_project(EXAMPLES / "delivery")


def sklearn_onnx(folder: Path, width: int) -> tuple[Path, LinearRegression, np.ndarray]:
    """A regression as skl2onnx exports it by default: input ``X``, output ``variable``."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, width)).astype(np.float32)
    model = LinearRegression().fit(x, 30 + 5 * x[:, 0] + rng.normal(size=300))
    path = folder / "eta.onnx"
    path.write_bytes(to_onnx(model, x[:1]).SerializeToString())
    return path, model, x


def graph_names(path: Path) -> tuple[list[str], list[str]]:
    graph = onnx.load(str(path)).graph
    initial = {i.name for i in graph.initializer}
    return [i.name for i in graph.input if i.name not in initial], [o.name for o in graph.output]


def test_an_exporters_own_tensor_names_are_served_under_the_projects(tmp_path: Path) -> None:
    tensors = tensors_of(DELIVERY, "eta")
    path, model, x = sklearn_onnx(tmp_path, tensors.width)
    assert graph_names(path) == (["X"], ["variable"])
    assert check_file(DELIVERY, "eta", path) is None

    repo = ModelRepository(tmp_path / "models")
    version = ship_file(DELIVERY, repo, "eta", path, sample_x=x[:50])
    assert version == 1
    served = repo.model_file("eta", 1)
    assert served is not None
    assert graph_names(served) == ([tensors.input], [tensors.output])
    # the same model: the served file scores as the original does
    np.testing.assert_allclose(
        repo.load("eta", 1).predict(x[:20]).ravel(), model.predict(x[:20]), rtol=1e-4
    )
    card = repo.card("eta", 1)
    assert card.source.path == str(path.resolve())  # the card names the file as given
    reference = repo.reference("eta", 1)
    assert reference is not None and int(reference.counts[0].sum()) == 50
    assert path.read_bytes() != served.read_bytes()  # the user's file is left as it was
    assert graph_names(path) == (["X"], ["variable"])


def test_a_graph_of_the_projects_names_is_served_as_it_is(tmp_path: Path) -> None:
    tensors = tensors_of(DELIVERY, "eta")
    path, _, _ = sklearn_onnx(tmp_path, tensors.width)
    proto = onnx.load(str(path))
    graph = proto.graph
    graph.input[0].name, graph.output[0].name = tensors.input, tensors.output
    for node in graph.node:
        node.input[:] = [tensors.input if n == "X" else n for n in node.input]
        node.output[:] = [tensors.output if n == "variable" else n for n in node.output]
    path.write_bytes(proto.SerializeToString())
    repo = ModelRepository(tmp_path / "models")
    ship_file(DELIVERY, repo, "eta", path, sample_x=None)
    served = repo.model_file("eta", 1)
    assert served is not None and served.read_bytes() == path.read_bytes()


def test_a_graph_with_two_inputs_none_of_the_projects_is_refused(tmp_path: Path) -> None:
    tensors = tensors_of(DELIVERY, "eta")
    x = onnx.helper.make_tensor_value_info("a", onnx.TensorProto.FLOAT, [None, tensors.width])
    y = onnx.helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, [None, tensors.width])
    out = onnx.helper.make_tensor_value_info("sum", onnx.TensorProto.FLOAT, [None, 1])
    node = onnx.helper.make_node("Add", ["a", "b"], ["s"])
    reduce = onnx.helper.make_node("ReduceSum", ["s"], ["sum"], keepdims=1)
    reduce.attribute.append(onnx.helper.make_attribute("axes", [1]))
    graph = onnx.helper.make_graph([node, reduce], "two", [x, y], [out])
    path = tmp_path / "two.onnx"
    path.write_bytes(onnx.helper.make_model(graph).SerializeToString())
    problem = check_file(DELIVERY, "eta", path)
    assert problem == f"two.onnx has no input tensor {tensors.input!r} (it has a, b): " \
        f"the project's models take {tensors.input}"  # fmt: skip
    repo = ModelRepository(tmp_path / "models")
    with pytest.raises(RepositoryError, match="has no input tensor"):
        ship_file(DELIVERY, repo, "eta", path, sample_x=None)
    assert repo.versions("eta") == []


def test_the_roles_prefer_the_projects_names() -> None:
    tensors = tensors_of(DELIVERY, "eta")
    both = {tensors.input: 13, "extra": 2}
    assert onnx_roles(both, {"variable": 1}, tensors) == (tensors.input, "variable")
    assert onnx_roles({"X": 13}, {"label": 1, "probabilities": 3}, tensors) == ("X", None)
    assert onnx_roles({}, {}, tensors) == (None, None)
