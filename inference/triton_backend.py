"""The Triton side: a Python-backend model that runs the TorchScript file next to it.

This file runs inside Triton, not in StreamScore: ``inference.repository`` copies it into
``<repository>/<model>/<version>/model.py`` (the name Triton requires). Triton's
dynamic batcher may hand several requests to one ``execute`` call; they are concatenated and
run as ONE forward pass, then split back per request.
"""

import json
import os

import numpy as np
import torch
import triton_python_backend_utils as pb_utils

INPUT = "features"
OUTPUT = "score"


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

    def execute(self, requests):
        arrays = [pb_utils.get_input_tensor_by_name(r, INPUT).as_numpy() for r in requests]
        batch = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        with torch.inference_mode():
            scores = self.model(torch.from_numpy(batch).to(self.device)).cpu().numpy()
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
