"""The secured stack of tests/security/: its secrets, what the tests captured, CLI children.

Every output a test captures goes through :meth:`Secured.capture`, so that one check can look
for each secret in all of them, and in the services' own logs.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from typing import TypeVar

from infra.config import Settings, child_environment
from infra.settings import ServicesSettings

S = TypeVar("S", bound=Settings)


@dataclass
class Secured:
    """The secured services, their secrets, and every output a test captured from them."""

    config: ServicesSettings
    secrets: tuple[str, ...]
    outputs: dict[str, str] = field(default_factory=dict)

    def capture(self, what: str, text: str) -> str:
        self.outputs[what] = text
        return text

    def leaks(self) -> list[str]:
        """``where: secret #i`` for each secret found in a captured output or a service log."""
        texts = dict(self.outputs)
        for log in self.config.state_dir.glob("*/*.log"):
            texts[str(log)] = log.read_text(errors="replace")
        return [
            f"{where}: secret #{i}"
            for where, text in texts.items()
            for i, secret in enumerate(self.secrets)
            if secret in text
        ]


def run_cli(
    stack: Secured, what: str, settings: Settings, args: list[str], timeout_s: float = 90
) -> subprocess.CompletedProcess[str]:
    """`streamscore ARGS` in a child that reads exactly ``settings``, its output captured.
    The timeout bounds a hang; it measures nothing."""
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=child_environment(settings),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    stack.capture(f"{what}: stdout", result.stdout)
    stack.capture(f"{what}: stderr", result.stderr)
    return result


def one_line(text: str) -> str:
    """The only non-empty line of ``text``; fails when there are more (a traceback, logs)."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    return lines[0]


def with_values(settings: S, section: str, **values: object) -> S:
    """``settings`` with some fields of one section replaced (a wrong password, no key)."""
    part = getattr(settings, section).model_copy(update=values)
    return settings.model_copy(update={section: part})
