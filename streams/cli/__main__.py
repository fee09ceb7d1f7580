"""`python -m streams.cli ...`: the same as the `streamscore` command."""

from streams.cli import cli

cli()
