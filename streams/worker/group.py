"""The two engines never share a consumer group, and a worker that meets the other one says so.

A Faust worker joins its group with Faust's own assignor ("faust"); librdkafka's consumer with
"range"/"roundrobin". The group coordinator refuses a member whose protocols share none with
the group's (InconsistentGroupProtocol), and left alone aiokafka logs that once and then idles
for good. So a worker exits non-zero with one line instead, in both places it can be seen:

- before joining, :func:`check_group` describes the group: members of the other engine hold it;
- while joining (both started at once), the join error itself: the librdkafka engine gets it as
  a consumer error, the Faust engine through :class:`JoinRefusedWatch` on aiokafka's log.

Changing engine is stop-the-world: stop every worker of one engine, then start the other. The
committed offsets are the group's, so the new engine goes on where the old one stopped.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.client.errors import KAFKA_LOG
from streams.worker.errors import GroupConflict
from streams.worker.settings import WorkerSettings

log = logging.getLogger(__name__)

FAUST_ASSIGNOR = "faust"


def conflict_line(group: str, engine: str) -> str:
    other = "librdkafka" if engine == "faust" else "faust"
    return (
        f"consumer group {group!r} is held by {other}-engine workers, which a {engine} worker "
        f"can never join; stop them first, or give this worker another STREAMSCORE_APP_ID "
        f"(RELIABILITY.md, 'Changing engine')"
    )


def check_group(settings: WorkerSettings, timeout_s: float = 10.0) -> None:
    """Raise GroupConflict if live members of the other engine hold the group."""
    group = settings.app_id
    admin = AdminClient(settings.kafka.librdkafka(logger=KAFKA_LOG))
    try:
        found = admin.describe_consumer_groups([group], request_timeout=timeout_s)[group]
        description = found.result()
    except KafkaException as exc:  # no answer: the join itself will tell
        log.info("consumer group %s not described before joining: %s", group, exc)
        return
    if other_engine_holds(description, settings.engine):
        raise GroupConflict(conflict_line(group, settings.engine))


def other_engine_holds(description: Any, engine: str) -> bool:
    """Whether the described group is held by the other engine's members. A group in the
    middle of a rebalance lists its members before it has chosen an assignor: that says
    nothing (the join will), so only a chosen assignor decides."""
    assignor = description.partition_assignor
    if not description.members or not assignor:
        return False
    return (assignor == FAUST_ASSIGNOR) != (engine == "faust")


class JoinRefusedWatch(logging.Handler):
    """On aiokafka's "failed due to fatal error: InconsistentGroupProtocolError", stop the
    worker (SIGTERM to itself: Faust's orderly shutdown); ``refused`` tells the caller to
    raise GroupConflict (its one line, a non-zero exit) afterwards."""

    LOGGER = "aiokafka.consumer.group_coordinator"

    def __init__(self, group: str) -> None:
        super().__init__(logging.ERROR)
        self.group = group
        self.refused = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.refused or "InconsistentGroupProtocol" not in record.getMessage():
            return
        self.refused = True
        os.kill(os.getpid(), signal.SIGTERM)

    def __enter__(self) -> JoinRefusedWatch:
        logging.getLogger(self.LOGGER).addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        logging.getLogger(self.LOGGER).removeHandler(self)
