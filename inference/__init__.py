"""Models and how they are served.

contract.py         the Model protocol every scorer implements (load, predict, unload)
mlp.py              the torch MLP that scores events
training.py         training it; synthetic.py: data with a known ground truth
repository.py       exporting versions into Triton's model repository (torchscript.py)
triton_backend.py   the Triton side: the Python-backend model file Triton runs
triton_client.py    the StreamScore side: a Model served by Triton (timeout, breaker.py)
errors.py           the InferenceError branch of the exception tree
"""
