"""`streamscore demo` refuses bad options in one line, before starting anything."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from streams.cli import cli


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--engine", "kafka-streams"], "error: --engine must be librdkafka or faust"),
        (["--drift-at", "200"], "error: --drift-at (200) must come before the end (120)"),
        (["--quick", "--drift-at", "45"], "error: --drift-at (45) must come before the end (40)"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_1(args: list[str], line: str) -> None:
    result = CliRunner().invoke(cli, ["demo", *args])
    assert result.exit_code == 1
    assert line in result.output
    assert len(result.output.strip().splitlines()) == 1
