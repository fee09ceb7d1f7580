"""Everything that moves records: one package per concern, in the order data flows.

    client/       the SDK users import: producers, consumers, their settings, input files
    worker/       the scoring worker: engines, batch runner, pipeline, sink, metrics
    features/     the online feature store in Redis and its live updates
    routing/      which model version is primary and which are shadows, read live
    cli/          the `streamscore` command, one module per group of commands
    simulation/   synthetic events with drift, and the live demo
    topics.py     topic names and their creation; backoff.py: the one retry helper

docs/architecture.md maps each step of the data flow to its module.
"""
