"""A checked project: its spec, the schemas it reads and writes, its layout and deciders.

Built by :func:`schemas.project.loading.load_project`, never by hand; immutable. Everything
a deployable asks of the use case it asks here: the event schema and which fields are the
id, the entity and the time; the feature view (key prefix, defaults, ttl); the model input
layout; each model's entry and decider; the labels; the settings the project gives.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from schemas.project.decisions import Decider
from schemas.project.layout import InputLayout
from schemas.project.spec import FeatureViewSpec, ModelSpec, ProjectSpec

# Project sections that give settings, and the variable prefix of their keys:
# drift.psi_threshold is STREAMSCORE_DRIFT_PSI_THRESHOLD.
SETTING_SECTIONS = {"drift": "DRIFT_", "retraining": "RETRAIN_", "gates": "RETRAIN_GATE_"}
_NOT_SETTINGS = {("retraining", "trainer"), ("retraining", "params"), ("gates", "golden")}


@dataclass(frozen=True, slots=True, eq=False)
class Project:
    spec: ProjectSpec
    path: Path  # the project file
    sha256: str  # of its bytes: model cards record it
    event_schema: dict[str, Any]
    feature_schema: dict[str, Any]
    label_schema: dict[str, Any]
    released: tuple[dict[str, Any], ...]  # older versions of the project's schemas
    layout: InputLayout
    deciders: dict[str, Decider]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def root(self) -> Path:
        return self.path.parent

    def resolve(self, relative: Path | str) -> Path:
        return (self.root / relative).resolve()

    # -- the parts -----------------------------------------------------------------------

    @property
    def features(self) -> FeatureViewSpec:
        return self.spec.features

    @property
    def task(self) -> str:
        return self.spec.models[0].task

    @property
    def default_model(self) -> ModelSpec:
        """The first model of the file: the primary when none is stored yet."""
        return self.spec.models[0]

    def model(self, name: str) -> ModelSpec:
        """The entry of model ``name``; a model the file does not name (a challenger exported
        by hand) is read with the first model's entry: same tensors, task and decisions."""
        for model in self.spec.models:
            if model.name == name:
                return model
        return self.default_model

    def decider(self, name: str) -> Decider:
        return self.deciders.get(name) or self.deciders[self.default_model.name]

    @property
    def key_prefix(self) -> str:
        """Redis key of an entity's vector: this prefix + the entity id."""
        prefix = self.features.key_prefix
        return prefix if prefix is not None else f"{self.name}:features:"

    @property
    def ttl_ms(self) -> int | None:
        ttl = self.features.ttl
        return None if ttl is None else int(ttl * 1000)

    @property
    def feature_defaults(self) -> np.ndarray:
        """The view's defaults as one float32 vector, in the view's order (a fresh array:
        callers may write into it)."""
        return np.array([f.default for f in self.features.features], dtype=np.float32)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features.features)

    def schema(self, role: str) -> dict[str, Any]:
        """The project's schema of ``role``: ``event``, ``label`` or ``entity_features``."""
        return {
            "event": self.event_schema,
            "label": self.label_schema,
            "entity_features": self.feature_schema,
        }[role]

    @property
    def schemas(self) -> dict[str, dict[str, Any]]:
        return {r: self.schema(r) for r in ("event", "label", "entity_features")}

    def outcome(self, value: Any) -> float | None:
        """A label's outcome as a number: 0/1 (binary), the class's index (multiclass), the
        value (regression); None when it is no outcome of this task (counted bad)."""
        model = self.default_model
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return None
        if model.task == "multiclass":
            classes = list(model.classes or ())
            if isinstance(value, str):
                return float(classes.index(value)) if value in classes else None
            ok = isinstance(value, int) and not isinstance(value, bool)
            return float(value) if ok and 0 <= value < len(classes) else None
        if model.task == "binary":
            return float(value) if value in (0, 1) else None  # True and False are 1 and 0
        return float(value) if isinstance(value, int | float) else None

    # -- settings ------------------------------------------------------------------------

    def setting_defaults(self) -> dict[str, str]:
        """The ``STREAMSCORE_*`` variables this project gives a value to: its topics, and the
        keys of ``drift``, ``retraining`` and ``gates`` that are set. A deployable's settings
        take these below the environment (infra/config.py)."""
        out = {
            "STREAMSCORE_TOPIC_EVENTS": self.spec.events.topic,
            "STREAMSCORE_TOPIC_LABELS": self.spec.labels.topic,
            "STREAMSCORE_TOPIC_FEATURES": self.features.topic,
        }
        for section, prefix in SETTING_SECTIONS.items():
            values = getattr(self.spec, section).model_dump(exclude_none=True)
            for key, value in values.items():
                if (section, key) in _NOT_SETTINGS:
                    continue
                variable = (
                    "RETRAIN_EVERY"
                    if (section, key) == ("retraining", "every")
                    else (prefix + key.upper())
                )
                out["STREAMSCORE_" + variable] = str(value)
        return out

    # -- user code -----------------------------------------------------------------------

    def entry_point(self, text: str) -> Any:
        """``module:name``: the module is a file of the project's folder when there is one
        (``trainer`` is ``<folder>/trainer.py``, imported under a name of this folder's, so
        that two projects' ``trainer`` modules never meet), else an installed module
        (``inference.training``). The folder is on the path while it imports, for its own
        imports of its neighbours."""
        module_name, _, attribute = text.partition(":")
        file = self.root.joinpath(*module_name.split(".")).with_suffix(".py")
        if not file.is_file():
            return getattr(importlib.import_module(module_name), attribute)
        # Keyed by the folder: two projects (or two copies of one) never share a module.
        folder = hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()[:12]
        unique = f"_streamscore_project_{folder}_{module_name}"
        module = sys.modules.get(unique)
        if module is None:
            spec = importlib.util.spec_from_file_location(unique, file)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            root = str(self.root)
            sys.path.insert(0, root)
            sys.modules[unique] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[unique]
                raise
            finally:
                sys.path.remove(root)
        return getattr(module, attribute)

    def trainer(self) -> Callable[..., Any]:
        """The project's trainer (``retraining.trainer``); ImportError, AttributeError."""
        trainer = self.entry_point(self.spec.retraining.trainer)
        if not callable(trainer):
            raise TypeError(f"{self.spec.retraining.trainer} is not a function")
        return trainer
