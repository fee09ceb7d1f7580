"""Drift detectors, drift policy and retraining triggers."""
