"""Synthetic traffic: the reproducible event simulator (simulator.py) and the live demo that
`make run` shows (demo.py)."""
