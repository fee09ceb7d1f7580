"""Errors of the local service launchers: a branch of the one tree in schemas/errors.py.

StreamScoreError
└── InfraError              one line saying what is wrong and how to fix it
    ├── PortInUseError      a port a service needs is taken by another process
    ├── MissingToolError    Java, Maven or apt-get is not there
    ├── DownloadError       the Kafka jars could not be resolved
    └── StartError          a service started but never became healthy
"""

from __future__ import annotations

from schemas.errors import StreamScoreError


class InfraError(StreamScoreError):
    """Base of the launcher errors; ``str()`` is a single line meant for the operator."""


class PortInUseError(InfraError):
    pass


class MissingToolError(InfraError):
    pass


class DownloadError(InfraError):
    pass


class StartError(InfraError):
    pass
