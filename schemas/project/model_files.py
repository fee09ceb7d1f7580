"""The tensors a model source declares, read without a server: an ONNX graph's inputs and
outputs, or a Triton folder's config.pbtxt. The project's checks and `models add` compare
them with the project's inputs before anything is served."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

TensorWidths = dict[str, int | None]  # tensor name -> its last dim (None: not fixed)


def source_tensors(path: Path) -> tuple[TensorWidths | None, TensorWidths | None] | None:
    """(inputs, outputs) a model source declares, each by name with its width; None for one
    it cannot tell without running the model (a TorchScript file); None in all for something
    that is no model source. ONNX graphs and a Triton folder's config.pbtxt are read."""
    if path.is_dir():
        config = path / "config.pbtxt"
        if not config.is_file():
            return None
        return _pbtxt_tensors(config.read_text(encoding="utf-8"))
    if path.suffix == ".pt":
        return None, None
    if path.suffix != ".onnx":
        return None
    try:
        import onnx
    except ImportError:
        return None, None
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # not ONNX: the server refuses it with its own words later
        return None, None
    initial = {i.name for i in graph.initializer}

    def width(value: Any) -> int | None:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 1:
            return 1  # (batch,): one value per row
        return (dims[-1].dim_value or None) if len(dims) >= 2 else None

    inputs = {i.name: width(i) for i in graph.input if i.name not in initial}
    return inputs, {o.name: width(o) for o in graph.output}


_TENSOR = re.compile(r"\{[^{}]*?name\s*:\s*\"([^\"]+)\"[^{}]*?dims\s*:\s*\[([^\]]*)\][^{}]*\}")


def _pbtxt_tensors(text: str) -> tuple[TensorWidths, TensorWidths]:
    """input [...] and output [...] of a config.pbtxt, by tensor name with the last dim."""
    found: list[TensorWidths] = []
    for section in ("input", "output"):
        match = re.search(rf"\b{section}\s*\[(.*?)\]\s*(?:\n\s*\w|\Z)", text, re.S)
        tensors: TensorWidths = {}
        for name, dims in _TENSOR.findall(match[1] if match else ""):
            values = [d.strip() for d in dims.split(",") if d.strip()]
            tensors[name] = int(values[-1]) if values and int(values[-1]) > 0 else None
        found.append(tensors)
    return found[0], found[1]
