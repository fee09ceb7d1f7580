"""The security settings without servers: what they turn on, what they refuse, and that no
error message or generated file (but the servers' own 0600 ones) holds a secret."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import stat
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpcaio
from confluent_kafka import KafkaError
from cryptography import x509
from pydantic import ValidationError

from inference.triton_client import GRPC_ADMIN_HEADER, TritonConfig
from infra.errors import StartError
from infra.kafka_server import KafkaServer
from infra.redis_server import RedisServer
from infra.settings import ServicesSettings
from infra.tls import ensure_certificates
from streams.client import ClientSettings
from streams.client.errors import AuthenticationError, LoginWatch
from streams.worker.settings import RedisConfig, on_services

SECRET = "Sup3r-s3cret_value"


def _secured(tmp_path: Path, **extra: object) -> ServicesSettings:
    values: dict[str, object] = {
        "state_dir": tmp_path,
        "kafka_security": "sasl_ssl",
        "kafka_sasl_password": SECRET,
        "redis_tls": True,
        "redis_username": "scorer",
        "redis_password": SECRET + "r",
        "triton_admin_key": SECRET + "t",
    }
    return ServicesSettings(**{**values, **extra})


def test_the_services_settings_give_a_worker_everything_it_needs(tmp_path: Path) -> None:
    config = _secured(tmp_path)
    worker = on_services(config)
    kafka = worker.kafka.librdkafka()
    assert kafka["security.protocol"] == "SASL_SSL"
    assert kafka["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (kafka["sasl.username"], kafka["sasl.password"]) == ("streamscore", SECRET)
    assert kafka["ssl.ca.location"] == str(tmp_path / "tls" / "ca.pem")
    assert worker.redis.url == f"rediss://127.0.0.1:{config.redis_port}/0"
    assert worker.redis.username == "scorer"
    assert worker.redis.ssl_ca_certs == tmp_path / "tls" / "ca.pem"
    assert worker.triton.admin_headers() == {GRPC_ADMIN_HEADER: SECRET + "t"}
    assert SECRET not in repr(worker) and SECRET not in repr(config)


def test_plain_services_give_plain_clients(tmp_path: Path) -> None:
    worker = on_services(ServicesSettings(state_dir=tmp_path))
    assert worker.kafka.security_protocol == "PLAINTEXT"
    assert worker.redis.url.startswith("redis://") and worker.redis.password is None
    assert worker.triton.admin_headers() == {}


@pytest.mark.parametrize(
    ("values", "needs"),
    [
        ({"kafka_sasl_password": None}, "STREAMSCORE_KAFKA_SASL_PASSWORD"),
        ({"kafka_sasl_password": SECRET + ",x"}, "a comma"),
        ({"kafka_sasl_username": "a b"}, "a space"),
        ({"triton_admin_key": SECRET + "=x"}, "STREAMSCORE_TRITON_ADMIN_KEY"),
        ({"redis_password": None}, "STREAMSCORE_REDIS_PASSWORD"),
    ],
)
def test_incomplete_or_unusable_security_is_refused_without_quoting_the_secret(
    tmp_path: Path, values: dict[str, object], needs: str
) -> None:
    with pytest.raises(ValidationError) as info:
        _secured(tmp_path, **values)
    assert needs in str(info.value)
    assert SECRET not in str(info.value)


def test_a_client_settings_error_never_quotes_the_password() -> None:
    with pytest.raises(ValidationError) as info:
        ClientSettings(kafka={"security_protocol": "SASL_SSL", "sasl_password": SECRET})
    assert "STREAMSCORE_SASL_MECHANISM" in str(info.value)
    assert SECRET not in str(info.value)


def test_the_certificates_serve_127_0_0_1_and_localhost_and_keep_their_keys_private(
    tmp_path: Path,
) -> None:
    certs = ensure_certificates(tmp_path / "tls", "127.0.0.1")
    ca = x509.load_pem_x509_certificate(certs.ca.read_bytes())
    cert = x509.load_pem_x509_certificate(certs.cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    for key in (certs.key, certs.keystore):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not list((tmp_path / "tls").glob("ca*.key"))  # the CA's key is never kept
    before = certs.cert.read_bytes()
    assert ensure_certificates(tmp_path / "tls", "127.0.0.1").cert.read_bytes() == before


def test_a_secured_broker_listens_sasl_ssl_and_its_controller_wants_the_ca(
    tmp_path: Path,
) -> None:
    server = KafkaServer(_secured(tmp_path))
    props_file = server._write_properties()
    assert stat.S_IMODE(props_file.stat().st_mode) == 0o600  # it holds the broker's login
    props = dict(line.split("=", 1) for line in props_file.read_text().splitlines())
    port, controller = server.config.kafka_port, server.config.kafka_controller_port
    assert props["listeners"] == f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}"
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:SSL"
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["super.users"] == "User:streamscore;User:CN=streamscore-services"


def test_a_storage_formatted_with_other_credentials_is_refused_by_name(tmp_path: Path) -> None:
    formatted = KafkaServer(_secured(tmp_path))
    (tmp_path / "kafka" / "data").mkdir(parents=True)
    formatted._security_file.write_text(formatted._fingerprint(salt="00ff"))
    assert SECRET not in formatted._security_file.read_text()
    formatted._check_formatted_security()  # the same credentials: accepted
    other = KafkaServer(_secured(tmp_path, kafka_sasl_password=SECRET + "2"))
    with pytest.raises(StartError, match="formatted for security 'sasl_ssl streamscore'") as info:
        other._check_formatted_security()
    assert SECRET not in str(info.value)


def test_redis_gets_the_password_as_its_sha256_and_the_default_user_off(tmp_path: Path) -> None:
    server = RedisServer(_secured(tmp_path))
    server.home.mkdir(parents=True)
    config = Path(server._write_config())
    digest = hashlib.sha256((SECRET + "r").encode()).hexdigest()
    assert config.read_text() == f"user default off\nuser scorer on #{digest} ~* &* +@all\n"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_the_redis_client_sends_the_ca_only_over_tls(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    tls = RedisConfig(url="rediss://h:1/0", username="u", password=SECRET, ssl_ca_certs=ca)
    assert tls._options(1.0) == {
        "socket_timeout": 1.0, "username": "u", "password": SECRET, "ssl_ca_certs": str(ca)
    }  # fmt: skip
    plain = RedisConfig(url="redis://h:1/0", ssl_ca_certs=ca)
    assert plain._options(1.0) == {"socket_timeout": 1.0}


def test_a_refused_kafka_login_becomes_one_line_naming_it() -> None:
    watch = LoginWatch("127.0.0.1:9093")
    watch(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    watch.check()  # unreachable is not a refused login
    reason = (
        "sasl_ssl://127.0.0.1:9093/bootstrap: SASL authentication error: Authentication failed"
        " during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
        " (after 308ms in state AUTH_REQ)"
    )
    watch(KafkaError(KafkaError._AUTHENTICATION, reason))
    with pytest.raises(AuthenticationError) as info:
        watch.check()
    assert str(info.value) == (
        "Kafka authentication failed at 127.0.0.1:9093: SASL authentication error: "
        "Authentication failed during authentication due to invalid credentials with SASL "
        "mechanism SCRAM-SHA-512"
    )


def test_only_model_control_calls_carry_the_admin_key(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: dict[str, object] = {}

    def record(name: str):  # type: ignore[no-untyped-def]
        def call(self: object, *args: object, headers: object = None, **kwargs: object) -> None:
            sent[name] = headers

        return call

    base = grpcclient.InferenceServerClient
    for method in ("load_model", "unload_model", "get_model_repository_index", "infer"):
        monkeypatch.setattr(base, method, record(method))
    client = TritonConfig(grpc_url="127.0.0.1:1", admin_key=SECRET).client()
    client.load_model("m")
    client.unload_model("m", headers={"x-trace": "1"})
    client.get_model_repository_index()
    client.infer("m", [])
    client.close()
    key = {GRPC_ADMIN_HEADER: SECRET}
    assert sent == {
        "load_model": key,
        "unload_model": {**key, "x-trace": "1"},
        "get_model_repository_index": key,
        "infer": None,
    }


def test_the_workers_async_client_sends_the_key_on_the_repository_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LiveRouting asks the index for the default model's newest version with this client."""
    sent: list[object] = []

    async def index(self: object, headers: object = None, **kwargs: object) -> None:
        sent.append(headers)

    monkeypatch.setattr(grpcaio.InferenceServerClient, "get_model_repository_index", index)

    async def ask() -> None:
        client = TritonConfig(grpc_url="127.0.0.1:1", admin_key=SECRET).async_client()
        await client.get_model_repository_index()
        await client.close()

    asyncio.run(ask())
    assert sent == [{GRPC_ADMIN_HEADER: SECRET}]
