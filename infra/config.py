"""How every deployable reads its configuration: once, from ``STREAMSCORE_*``, frozen after.

A deployable (the services, a client, a scoring worker) has ONE :class:`Settings` class. Its
fields are plain values or :class:`Section` objects: frozen pydantic models that group what
one component needs (Kafka connection, Triton client, batching, ...). A component takes its
section and never reads the environment; the default, the bounds and the description of a
setting are written once, on the section's field.

Variable names stay flat, as users write them: a section field ``size`` in a section with
``env_prefix = "BATCH_"`` is ``STREAMSCORE_BATCH_SIZE``; a field whose variable breaks the
pattern names it with ``Field(..., json_schema_extra=env_name("SASL_USERNAME"))``.
:meth:`Settings.environment` is the inverse: the variables that make another process (a
worker started by the demo, a test or the bench) read the very same settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr
from pydantic.config import JsonDict
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "STREAMSCORE_"


class Section(BaseModel):
    """A frozen group of settings; ``env_prefix`` starts its variables' names."""

    # hide_input_in_errors: a validation error never quotes the values it was given, since
    # they may hold a password (the section's dict is the input of a model-level check).
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)
    env_prefix: ClassVar[str] = ""

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Field name → its variable's full name."""
        out = {}
        for name, field in cls.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            out[name] = ENV_PREFIX + str(extra.get("env") or cls.env_prefix + name).upper()
        return out


def env_name(name: str) -> JsonDict:
    """``json_schema_extra`` for a section field whose variable is ``STREAMSCORE_<name>``."""
    return {"env": name}


def _sections(settings_cls: type[BaseModel]) -> dict[str, type[Section]]:
    return {
        name: field.annotation
        for name, field in settings_cls.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, Section)
    }


class _SectionEnvSource(PydanticBaseSettingsSource):
    """Reads each section's flat variables into a nested dict (pydantic merges it), from the
    environment, or from ``variables`` (what a project file gives, below the environment)."""

    def __init__(
        self, settings_cls: type[BaseSettings], variables: dict[str, str] | None = None
    ) -> None:
        super().__init__(settings_cls)
        self.variables = variables

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ does the whole job

    def __call__(self) -> dict[str, Any]:
        source = os.environ if self.variables is None else self.variables
        env = {key.upper(): value for key, value in source.items()}
        found: dict[str, Any] = {}
        for name, section in _sections(self.settings_cls).items():
            values = {f: env[var] for f, var in section.env_names().items() if var in env}
            if values:
                found[name] = values
        return found


class Settings(BaseSettings):
    """Base of each deployable's settings: prefix ``STREAMSCORE_``, frozen, sections."""

    # extra="forbid": a misspelt keyword is an error, not a silently ignored setting.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, hide_input_in_errors=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Keyword arguments win over the environment, which wins over the project file's
        # values (project_variables), which win over the defaults.
        given = getattr(init_settings, "init_kwargs", {})
        project = _SectionEnvSource(settings_cls, cls.project_variables(given))
        return init_settings, env_settings, _SectionEnvSource(settings_cls), project

    @classmethod
    def project_variables(cls, given: dict[str, Any]) -> dict[str, str]:
        """The ``STREAMSCORE_*`` variables the use case's project file sets (``given``: the
        keyword arguments); none here. Deployables that read a project override this."""
        return {}

    @classmethod
    def variables(cls) -> Iterator[tuple[str, FieldInfo]]:
        """Every variable this deployable reads, with the field that documents it."""
        sections = _sections(cls)
        for name, field in cls.model_fields.items():
            if name in sections:
                section = sections[name]
                for sub, var in section.env_names().items():
                    yield var, section.model_fields[sub]
            else:
                yield ENV_PREFIX + name.upper(), field

    def environment(self) -> dict[str, str]:
        """The ``STREAMSCORE_*`` variables that make a new process read these settings."""
        out: dict[str, str] = {}
        sections = _sections(type(self))
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in sections:
                for sub, var in sections[name].env_names().items():
                    _put(out, var, getattr(value, sub))
            else:
                _put(out, ENV_PREFIX + name.upper(), value)
        return out


def _put(env: dict[str, str], name: str, value: object) -> None:
    if value is None:
        return  # unset stays unset: the reader falls back on the default, None
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    env[name] = str(value).lower() if isinstance(value, bool) else str(value)


def merge_sections(*layers: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for a Settings class, later layers on top; a section given as a dict
    in two layers is merged field by field."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                value = {**merged[key], **value}
            merged[key] = value
    return merged


def child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment without any ``STREAMSCORE_*`` of its own, plus
    ``settings``: a child started with it reads exactly ``settings``."""
    inherited = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)}
    return {**inherited, **settings.environment()}
