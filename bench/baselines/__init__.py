"""The baselines StreamScore is measured against, each a process of its own:

- ``raw_passthrough``: confluent-kafka consume → produce of the same bytes, no work;
- ``faust_passthrough``: a Faust agent that only forwards, with the Faust engine's settings
  (streams/worker/engines/faust.py);
- ``naive``: StreamScore's work done per event (one Redis GET, one Triton call of batch 1).

Each runs until SIGTERM and then exits cleanly; bench/configs.py says how to start them.
"""
