"""Triton client, torch models, training and export, the Triton model-repository template."""
