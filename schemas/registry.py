"""Schema ids of the Confluent wire format, fixed in code or asked of a Schema Registry.

The registry's client and its errors stay behind this boundary: they are translated into
:class:`~schemas.errors.RegistryError` here, which means "retry", never "dead-letter".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from schemas.errors import RegistryError
from schemas.schema_files import fingerprint, full_name


class SchemaIds(Protocol):
    """Schema ids of the Confluent wire format: the only thing a registry is asked for."""

    def id_for(self, schema: Mapping[str, Any]) -> int: ...

    def schema_for(self, schema_id: int) -> Mapping[str, Any] | None: ...


class StaticSchemaIds:
    """Ids fixed in code: for tests, and for deployments that pin ids instead of asking."""

    def __init__(self, schemas_by_id: Mapping[int, Mapping[str, Any]]) -> None:
        self._by_id = dict(schemas_by_id)
        self._by_fingerprint = {fingerprint(s): i for i, s in self._by_id.items()}

    def id_for(self, schema: Mapping[str, Any]) -> int:
        try:
            return self._by_fingerprint[fingerprint(schema)]
        except KeyError:
            raise RegistryError(f"{full_name(schema)} has no id in this mapping") from None

    def schema_for(self, schema_id: int) -> Mapping[str, Any] | None:
        return self._by_id.get(schema_id)


class RegistrySchemaIds:
    """Ids from a Confluent Schema Registry, asked lazily; the client caches both directions.

    The subject defaults to the record's full name (RecordNameStrategy), because a codec
    serves a schema, not a topic; pass ``subject="events-value"`` for TopicNameStrategy.
    """

    def __init__(self, client: Any, *, subject: str | None = None, auto_register: bool = True):
        self._client = client
        self._subject = subject
        self._auto_register = auto_register

    @classmethod
    def from_url(
        cls, url: str, conf: Mapping[str, str] | None = None, **kwargs: Any
    ) -> RegistrySchemaIds:
        try:
            from confluent_kafka.schema_registry import SchemaRegistryClient
        except ImportError as exc:
            raise RegistryError(
                "a schema registry needs: pip install 'confluent-kafka[schemaregistry]'"
            ) from exc
        return cls(SchemaRegistryClient({"url": url, **(conf or {})}), **kwargs)

    def id_for(self, schema: Mapping[str, Any]) -> int:
        from confluent_kafka.schema_registry import Schema

        subject = self._subject or full_name(schema)
        registry_schema = Schema(json.dumps(schema), "AVRO")
        try:
            if self._auto_register:
                return int(self._client.register_schema(subject, registry_schema))
            return int(self._client.lookup_schema(subject, registry_schema).schema_id)
        except Exception as exc:  # the client raises its own errors and httpx's
            raise RegistryError(f"no schema id for subject {subject}: {exc}") from exc

    def schema_for(self, schema_id: int) -> Mapping[str, Any] | None:
        try:
            registered = self._client.get_schema(schema_id)
        except Exception as exc:
            if getattr(exc, "http_status_code", None) == 404:
                return None  # the id does not exist: the message is bad, not the registry
            raise RegistryError(f"cannot fetch schema id {schema_id}: {exc}") from exc
        if (registered.schema_type or "AVRO") != "AVRO":
            return None  # a JSON Schema or Protobuf id: nothing an Avro codec can read
        return json.loads(registered.schema_str)
