"""The report's branch of the exception tree (drawn whole in infra/errors.py)::

StreamScoreError
└── ReportError    nothing can be reported: an empty range, an unknown model, no pairs
"""

from __future__ import annotations

from infra.errors import StreamScoreError


class ReportError(StreamScoreError):
    """Nothing can be reported from what was asked; the message says what to change."""
