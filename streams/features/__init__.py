"""The online feature store: packed vectors in Redis, read in one MGET per batch (store.py),
written in bulk by `streamscore features load` and live from the features topic (updates.py).
"""
