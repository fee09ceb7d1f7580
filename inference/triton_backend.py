"""The Triton side: a Python-backend model that runs the TorchScript file next to it.

This file runs inside Triton, not in StreamScore: ``inference.repository`` copies it into
``<repository>/<model>/<version>/model.py`` (the name Triton requires). Triton's
dynamic batcher may hand several requests to one ``execute`` call; they are concatenated and
run as ONE forward pass, then split back per request.

The forward pass always runs on a multiple of ``ROW_BLOCK`` rows (zero rows pad the batch):
CPU matmul kernels pick their code path by row count, so without the padding an event's
score could differ in the last bits with the size of the batch it happened to arrive in.
With it, a score depends on the event alone, and `streamscore replay` of a version
reproduces that version's live scores exactly (tests/streams/replay/).
"""

import json
import os

import numpy as np
import torch
import triton_python_backend_utils as pb_utils

INPUT = "features"
OUTPUT = "score"
ROW_BLOCK = 64


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        torch.set_num_threads(int(params.get("torch_threads", "1") or 1))
        if args["model_instance_kind"] == "GPU":
            self.device = torch.device(f"cuda:{args['model_instance_device_id']}")
        else:
            self.device = torch.device("cpu")
        path = os.path.join(args["model_repository"], args["model_version"], "model.pt")
        self.model = torch.jit.load(path, map_location=self.device).eval()
        # TorchScript profiles and optimises the graph on its first calls (about 30 ms then
        # 1 ms, against 0.05 ms after): run them here, before Triton reports the version
        # ready, so that no batch waits for them, a new shadow's first ones included.
        width = int(config["input"][0]["dims"][-1])
        with torch.inference_mode():
            for _ in range(3):
                self.model(torch.zeros((ROW_BLOCK, width), device=self.device))

    def execute(self, requests):
        arrays = [pb_utils.get_input_tensor_by_name(r, INPUT).as_numpy() for r in requests]
        rows = sum(len(a) for a in arrays)
        batch = np.zeros((rows + (-rows) % ROW_BLOCK, arrays[0].shape[1]), dtype=np.float32)
        np.concatenate(arrays, out=batch[:rows])
        with torch.inference_mode():
            scores = self.model(torch.from_numpy(batch).to(self.device)).cpu().numpy()[:rows]
        responses = []
        offset = 0
        for array in arrays:
            part = scores[offset : offset + len(array)]
            offset += len(array)
            responses.append(
                pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(OUTPUT, part)])
            )
        return responses

    def finalize(self):
        self.model = None
