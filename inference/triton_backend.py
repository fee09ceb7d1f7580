"""The Triton side: a Python-backend model that runs the model file next to it.

This file runs inside Triton, not in StreamScore: ``inference.repository`` copies it into
``<repository>/<model>/<version>/model.py`` (the name Triton requires) beside ``model.pt``
(TorchScript, run by torch) or ``model.onnx`` (run by onnxruntime): the wrapper a local
Triton with only the Python backend needs. The tensor names and the row width come from the
model's config.pbtxt, which StreamScore writes from the project file. Triton's dynamic
batcher may hand several requests to one ``execute`` call; they are concatenated and run as
ONE forward pass, then split back per request.

The forward pass always runs on a multiple of ``ROW_BLOCK`` rows (zero rows pad the batch):
CPU matmul kernels pick their code path by row count, so without the padding an event's
score could differ in the last bits with the size of the batch it happened to arrive in.
With it, a score depends on the event alone, and `streamscore replay` of a version
reproduces that version's live scores exactly (tests/streams/replay/).
"""

import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils

ROW_BLOCK = 64


class _Torch:
    def __init__(self, path, device, threads):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        self.device = torch.device(device)
        self.model = torch.jit.load(path, map_location=self.device).eval()

    def __call__(self, batch):
        torch = self.torch
        with torch.inference_mode():
            out = self.model(torch.from_numpy(batch).to(self.device))
        return out.cpu().numpy()


class _Onnx:
    def __init__(self, path, output, threads):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.outputs = [output]

    def __call__(self, batch):
        return self.session.run(self.outputs, {self.input: batch})[0]


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        threads = int(params.get("torch_threads", "1") or 1)
        self.input = config["input"][0]["name"]
        self.output = config["output"][0]["name"]
        self.columns = int(config["output"][0]["dims"][-1])
        folder = os.path.join(args["model_repository"], args["model_version"])
        if args["model_instance_kind"] == "GPU":
            device = f"cuda:{args['model_instance_device_id']}"
        else:
            device = "cpu"
        onnx = os.path.join(folder, "model.onnx")
        self.run = (
            _Onnx(onnx, self.output, threads)
            if os.path.exists(onnx)
            else _Torch(os.path.join(folder, "model.pt"), device, threads)
        )
        # TorchScript profiles and optimises the graph on its first calls (about 30 ms then
        # 1 ms, against 0.05 ms after): run them here, before Triton reports the version
        # ready, so that no batch waits for them, a new shadow's first ones included.
        width = int(config["input"][0]["dims"][-1])
        for _ in range(3):
            self.run(np.zeros((ROW_BLOCK, width), dtype=np.float32))

    def execute(self, requests):
        arrays = [pb_utils.get_input_tensor_by_name(r, self.input).as_numpy() for r in requests]
        rows = sum(len(a) for a in arrays)
        batch = np.zeros((rows + (-rows) % ROW_BLOCK, arrays[0].shape[1]), dtype=np.float32)
        np.concatenate(arrays, out=batch[:rows])
        out = np.asarray(self.run(batch), dtype=np.float32)[:rows]
        out = out.reshape(rows, self.columns)
        responses = []
        offset = 0
        for array in arrays:
            part = out[offset : offset + len(array)]
            offset += len(array)
            responses.append(
                pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(self.output, part)])
            )
        return responses

    def finalize(self):
        del self.run
