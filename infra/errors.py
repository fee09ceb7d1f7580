"""StreamScore's one exception tree, rooted here because this module imports nothing.

Callers catch by meaning, not by library: a worker asks "is this message bad (dead-letter
it) or is the world broken (hold and retry)?", and the answer is the class it caught.
Library exceptions (fastavro, confluent-kafka, redis, tritonclient) are translated where
they are raised, with ``raise ... from exc`` so the cause stays on the traceback::

    StreamScoreError                 anything StreamScore raises on purpose
    ├── InfraError                   a local service cannot be installed or started (here)
    │   ├── PortInUseError           a port a service needs is taken by another process
    │   ├── MissingToolError         Java, Maven or apt-get is not there
    │   ├── DownloadError            the Kafka jars could not be resolved
    │   └── StartError               a service started but never became healthy
    ├── SchemaError                  (schemas/errors.py) a schema, record or its bytes
    │   ├── DecodeError              these bytes can never become a record: dead-letter
    │   ├── EncodeError              this record cannot become bytes: a bug in the caller
    │   └── RegistryError            the schema registry did not answer: retry
    ├── InferenceError               (inference/errors.py) a model could not score a batch
    │   ├── ModelUnavailableError    the server or the model version is down / not loaded
    │   ├── ModelTimeoutError        no answer within the per-model timeout
    │   └── CircuitOpenError         the breaker is open: the call was not even tried
    ├── ClientError                  (streams/client/errors.py) a Kafka client failed
    │   ├── AuthenticationError      the broker refused the login, or TLS failed
    │   ├── DeliveryError            records were not acknowledged by the broker
    │   └── InvalidRecordError       a record does not fit its schema (names the field)
    ├── LoginRefused                 (streams/cli/logins.py) a service refused a worker's login
    ├── FatalWorkerError             (streams/worker/errors.py) a worker cannot go on: exit 1
    │   ├── GroupConflict            the consumer group is held by the other engine
    │   └── Fenced                   its transactional id was taken over
    ├── FeatureStoreError            (streams/features/store.py) Redis did not answer
    ├── PublishError                 (streams/worker/sink.py) outputs not acknowledged
    ├── RoutingError                 (streams/routing/state.py) unusable routing value
    ├── CardError                    (inference/card.py) a version's model card is missing or bad
    ├── ReproduceError               (streams/retraining/reproduce.py) nothing to retrain
    ├── ReportError                  (streams/report/errors.py) nothing can be reported
    └── Stopped                      (streams/backoff.py) a retry gave up: the process stops

A package adds its branch in its own ``errors`` module (or beside the one class that raises
it) and to this drawing.
"""

from __future__ import annotations


class StreamScoreError(Exception):
    """Root of every error StreamScore raises on purpose."""


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
