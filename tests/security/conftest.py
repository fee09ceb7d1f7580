"""A secured stack per module: Kafka SASL_SSL (SCRAM-SHA-512), Redis over TLS with an ACL
user, Triton with its model-control API behind a key, all turned on by settings alone.

A `streamscore up` child starts it on free ports in a temporary state folder (so its output
is checked like every other); `services.down` stops it at the end of the module, also when a
test or the start itself failed. The secrets are fresh random strings, so that finding one in an
output can only mean that it leaked there.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from infra import services
from infra.settings import on_free_ports
from tests.support.security import Secured, run_cli

KAFKA_USER = "streamscore-admin"
REDIS_USER = "scorer"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    kafka_password, redis_password, admin_key = (secrets.token_urlsafe(18) for _ in range(3))
    config = on_free_ports(
        tmp_path_factory.mktemp("secured"),
        kafka_security="sasl_ssl",
        kafka_sasl_username=KAFKA_USER,
        kafka_sasl_password=kafka_password,
        redis_tls=True,
        redis_username=REDIS_USER,
        redis_password=redis_password,
        triton_admin_key=admin_key,
    )
    stack = Secured(config, (kafka_password, redis_password, admin_key))
    try:
        result = run_cli(stack, "streamscore up", config, ["up"], timeout_s=300)
        assert result.returncode == 0, result.stdout + result.stderr
        yield stack
    finally:
        services.down(config)
