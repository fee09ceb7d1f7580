"""Faust app and agents, producer/consumer SDK, the `streamscore` CLI, settings, metrics."""
