"""The retraining worker: `retraining.requests` in, a gated new model version out.

settings.py holds its settings, dataset.py reads a point-in-time training set from the
topics, worker.py is the loop (idempotent by request_id) that trains with
inference/retraining.py, gates with inference/gate.py, exports the version, loads it on
Triton, adds it as a shadow, and publishes every outcome on `retraining.results`.
"""
