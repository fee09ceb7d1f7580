"""The canary guard: live quality per model version and arm, and automatic rollback.

settings.py holds its settings; join.py joins labels with predictions by event_id in bounded
memory; quality.py keeps a sliding window of labelled predictions per (model, role) and
computes AUC, precision, recall, log loss, error rate and latency from it; judge.py decides
whether a canary must go; guard.py holds the state and makes the rollback; process.py is the
consumer loop; events.py publishes routing changes on `models.events`; metrics.py exports the
gauges. docs/architecture.md, "Canary guard and live quality", is its design.
"""
