"""What `streamscore worker` checks before it starts: that the services accept its login.

A service that is not up yet is waited for (the worker takes nothing from the stream until
Triton and Redis answer); a refused login never heals by waiting, so it ends the start with
one line naming what was refused, and exit status 1. Each check is one request: a metadata
request to Kafka, a PING to Redis, a repository index to Triton when a model-control key is
set. None of the messages holds a secret: they name the user and the variable, never the
password or the key.
"""

from __future__ import annotations

import redis
from tritonclient.utils import InferenceServerException

from inference.triton_client import TritonConfig
from infra.errors import StreamScoreError
from streams.client.admin import check_login
from streams.client.errors import AuthenticationError
from streams.worker.settings import RedisConfig, WorkerSettings


class LoginRefused(StreamScoreError):
    """A service refused these credentials; ``str()`` is the line to print."""


def check_logins(settings: WorkerSettings, timeout_s: float = 10.0) -> None:
    """Raise :class:`LoginRefused` when Kafka, Redis or Triton refuses the worker's login."""
    try:
        check_login(settings.kafka, timeout_s)
    except AuthenticationError as exc:
        raise LoginRefused(str(exc)) from None
    _check_redis(settings.redis)
    _check_triton(settings.triton)


def _check_redis(config: RedisConfig) -> None:
    client = config.client(timeout_s=3.0)
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        user = config.username or "default"
        raise LoginRefused(
            f"Redis authentication failed at {_where(config.url)} as user {user!r}: {exc}"
        ) from None
    except redis.ConnectionError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):  # the CA file does not fit: no retry helps
            raise LoginRefused(
                f"Redis TLS handshake failed at {_where(config.url)}: certificate verify "
                "failed (check STREAMSCORE_REDIS_SSL_CA_CERTS)"
            ) from None
        # not up yet: the worker waits for it
    finally:
        client.close()


def _check_triton(config: TritonConfig) -> None:
    if config.admin_key is None:
        return  # scoring needs no key; without one, nothing to check
    client = config.client()
    try:
        client.get_model_repository_index(client_timeout=5.0)
    except InferenceServerException as exc:
        if "restricted" in str(exc.message()):
            raise LoginRefused(
                f"Triton at {config.grpc_url} refused the model-control key "
                "(STREAMSCORE_TRITON_ADMIN_KEY)"
            ) from None
        # not up yet: the worker waits for it
    finally:
        client.close()


def _where(url: str) -> str:
    """host:port of a Redis URL, without any user or password written into it."""
    netloc = url.split("://", 1)[-1].split("/", 1)[0]
    return netloc.rsplit("@", 1)[-1]
