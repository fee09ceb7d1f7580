"""The worker's branch of the exception tree (drawn whole in infra/errors.py)::

    StreamScoreError
    └── FatalWorkerError        the worker cannot go on: one line, then a non-zero exit
        ├── GroupConflict       the consumer group is held by the other engine's workers
        └── Fenced              (transactions.py) this transactional id was taken over

Everything else a worker meets is retried or dead-lettered (streams/worker/batch_runner.py).
"""

from __future__ import annotations

from infra.errors import StreamScoreError


class FatalWorkerError(StreamScoreError):
    """The worker must stop; ``str()`` is the one line the operator reads."""


class GroupConflict(FatalWorkerError):
    """The engines' consumer-group protocols differ: they can never share a group."""
