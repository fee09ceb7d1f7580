"""The live demo behind `make run` (`streamscore demo`): the whole loop on one machine.

run.py        the steps, from starting the services to the report, and DemoPlan
session.py    what one run starts, and stops again whatever happened
fleet.py      the worker, drift agent and retraining worker processes
traffic.py    entities, models and the simulated stream
outputs.py    the topics as they fill: latency, alerts, requests, results
watch.py      a Snapshot a second from /metrics, Redis and the topics; steps as they show
dashboard.py  the Snapshot drawn with rich
"""
