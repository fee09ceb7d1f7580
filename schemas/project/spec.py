"""The project file (``streamscore.yaml``) as pydantic models: what one use case *is*.

docs/project.md documents every key; this module is its reference. Paths are relative to
the folder of the file. Everything here is checked for shape only (types, unknown keys,
values that cannot be right on their own); what needs the files the project names (the
event schema's fields, a model's tensors, a trainer's import) is checked by
:mod:`schemas.project.loading`, which also turns any error into one line naming the file,
the line and the key.

Settings about *running* (ports, batch sizes, security, where the services are) are not
here: they stay ``STREAMSCORE_*`` variables. The ``drift``, ``retraining`` and ``gates``
sections name the same settings as those variables (``drift.psi_threshold`` is
``STREAMSCORE_DRIFT_PSI_THRESHOLD``): the project gives a use case's values, a variable set
for one run still wins (:meth:`Project.setting_defaults`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"  # Avro's rule for names, and ours for columns
MODEL_NAME = r"^[A-Za-z0-9_.-]+$"  # what Triton accepts as a model folder's name


class Strict(BaseModel):
    """No unknown keys (a typo is an error, not a silently ignored setting), immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def seconds_of(value: object) -> object:
    """``90``, ``"90s"``, ``"15m"``, ``"12h"``, ``"7d"`` or ``"250ms"`` as seconds."""
    if isinstance(value, bool):
        return value  # refused by the float check that follows
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"not a duration: {value!r} (e.g. 90s, 15m, 12h, 7d)")
        return float(match[1]) * _UNIT_S[match[2]]
    return value


Seconds = Annotated[float, BeforeValidator(seconds_of), Field(gt=0)]
Name = Annotated[str, Field(pattern=NAME)]


class EventsSpec(Strict):
    """The events to score: their topic, their Avro schema and its key fields."""

    topic: str = Field("events", min_length=1, description="The topic the events are on.")
    schema_file: Path = Field(
        alias="schema", description="The events' Avro schema (.avsc), a record of fields."
    )
    id: Name = Field("event_id", description="The string field that identifies an event.")
    entity: Name = Field(
        "entity_id", description="The string field naming the entity: the Kafka key, and "
        "the key of the feature view.",
    )  # fmt: skip
    time: Name = Field(
        "event_time", description="The long field (timestamp-millis) of when it happened."
    )
    segment: Name | None = Field(
        None, description="An optional string field that reports and gates slice by."
    )
    attributes: list[Name] = Field(
        default_factory=list,
        description="Event fields copied into every prediction's attributes (e.g. an order "
        "id), as strings.",
    )


FeatureType = Literal["double", "float", "int", "long", "boolean"]


class FeatureSpec(Strict):
    name: Name
    type: FeatureType = Field("double", description="Its Avro type on the features topic.")
    default: float = Field(description="Its value for an unknown entity or a stale vector.")
    doc: str = Field("", description="What it is (the generated schema's doc).")
    valid: tuple[float | None, float | None] | None = Field(
        None, description="[low, high]: `features load` refuses a value outside."
    )


class FeatureViewSpec(Strict):
    """The online feature view (Feast's shape): an entity key, features, a time to live."""

    name: Name = Field(description="The view's name (the generated schema's record name).")
    entity: Name = Field("entity_id", description="The key field of the features topic's records.")
    topic: str = Field(
        "features", min_length=1, description="The compacted topic of feature updates."
    )
    key_prefix: str | None = Field(
        None,
        description="Redis key of an entity's vector: prefix + entity id. Default "
        "'<project>:features:'.",
    )
    ttl: Seconds | None = Field(
        None,
        description="A vector older than this scores with the defaults and is flagged "
        "stale; unset: never stale.",
    )
    schema_file: Path | None = Field(
        None,
        alias="schema",
        description="The features topic's Avro schema; default: generated from `features`.",
    )
    features: list[FeatureSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> FeatureViewSpec:
        _no_duplicates([f.name for f in self.features], "feature")
        return self


Transform = Literal["log1p"] | dict[Literal["clip"], tuple[float | None, float | None]]


class InputSpec(Strict):
    """One model input: where it comes from, its kind, its value when absent, a transform."""

    name: Name = Field(description="The input's name (a one-hot input's columns add =value).")
    source: Literal["event", "feature"] = Field(
        alias="from", description="An event field, or a feature of the feature view."
    )
    field: Name | None = Field(None, description="The field or feature; default: `name`.")
    type: Literal["numeric", "boolean", "categorical"] = "numeric"
    default: float | bool | str | None = Field(
        None,
        description="The value used when an optional event field is null. Required for event "
        "inputs; a feature's default is the feature view's.",
    )
    vocabulary: list[str] | None = Field(
        None, description="A categorical input's categories, in column order."
    )
    encoding: Literal["one_hot", "index"] = Field(
        "one_hot", description="A categorical input as one 0/1 column per category, or one "
        "column of the category's index.",
    )  # fmt: skip
    unknown: str | None = Field(
        None,
        description="The bucket of a value outside the vocabulary: one of its categories, or "
        "a new one after them.",
    )
    transform: list[Transform] = Field(
        default_factory=list, description="Applied in order: log1p, or {clip: [low, high]}."
    )
    valid: tuple[float | None, float | None] | None = Field(
        None,
        description="[low, high]: `produce` and the SDK refuse a value outside (either may be "
        "null). Scoring never does.",
    )

    @property
    def field_name(self) -> str:
        return self.field or self.name

    @model_validator(mode="before")
    @classmethod
    def _transform_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("transform"), str | dict):
            data = {**data, "transform": [data["transform"]]}
        return data


class TensorSpec(Strict):
    name: str = Field(min_length=1, description="The tensor's name on the model server.")
    dims: list[int] | None = Field(
        None, description="Its dims without the batch axis; default: from the inputs or task."
    )


ModelTask = Literal["binary", "multiclass", "regression"]


class ThresholdDecisions(Strict):
    """binary: a decision per score threshold; below the lowest, ``default``."""

    default: Name = Field(description="The decision below every threshold.")
    thresholds: dict[Name, float] = Field(
        min_length=1, description="decision: the score from which it is taken."
    )
    positive: Name | None = Field(
        None,
        description="The decision that calls an event positive (the guard's and the gates' "
        "call); default: the highest threshold's.",
    )


class ArgmaxDecisions(Strict):
    """multiclass: the most probable class, unless its probability is under a minimum."""

    min_probability: float = Field(0.0, ge=0, le=1)
    otherwise: Name | None = Field(
        None, description="The decision when the top probability is under the minimum."
    )


class BandDecisions(Strict):
    """regression: a decision per band of the predicted value."""

    bands: dict[Name, float] = Field(
        min_length=1, description="decision: the value below which it is taken (ascending)."
    )
    above: Name = Field(description="The decision at or above the highest bound.")


def _decisions_kind(value: Any) -> str:
    """Which shape of decisions a value is, by its keys (the tags never show in errors)."""
    if isinstance(value, dict):
        if {"bands", "above"} & value.keys():
            return "<bands>"
        if {"thresholds", "default", "positive"} & value.keys():
            return "<thresholds>"
        return "<argmax>"
    return "<none>"


Decisions = Annotated[
    Annotated[ThresholdDecisions, Tag("<thresholds>")]
    | Annotated[ArgmaxDecisions, Tag("<argmax>")]
    | Annotated[BandDecisions, Tag("<bands>")]
    | Annotated[Literal["none"], Tag("<none>")],
    Discriminator(_decisions_kind),
]


class ModelSpec(Strict):
    """One model: its files, tensors, task, classes and decisions (KServe's predictor)."""

    name: Annotated[str, Field(pattern=MODEL_NAME)]
    task: ModelTask
    classes: list[str] | None = Field(
        None,
        description="binary: [negative, positive]; multiclass: every class, in output order.",
    )
    source: Path | None = Field(
        None,
        description="A TorchScript file (.pt), an ONNX file (.onnx) or a Triton model folder: "
        "version 1. Unset: the project's trainer trains version 1 on simulated events.",
    )
    input: TensorSpec = Field(default_factory=lambda: TensorSpec(name="features"))
    output: TensorSpec = Field(default_factory=lambda: TensorSpec(name="score"))
    decisions: Decisions | None = Field(
        None,
        description="How outputs become a decision; default: the class for multiclass, "
        "'none' otherwise.",
    )

    @model_validator(mode="after")
    def _fits_task(self) -> ModelSpec:
        shapes: dict[str, type[BaseModel]] = {
            "binary": ThresholdDecisions,
            "multiclass": ArgmaxDecisions,
            "regression": BandDecisions,
        }
        expected = shapes[self.task]
        if self.decisions not in (None, "none") and not isinstance(self.decisions, expected):
            keys = ", ".join(expected.model_fields)
            raise ValueError(f"a {self.task} model's decisions take {keys}")
        if self.task == "multiclass" and (self.classes is None or len(self.classes) < 2):
            raise ValueError("a multiclass model names its classes (at least two)")
        if self.task == "binary" and self.classes is not None and len(self.classes) != 2:
            raise ValueError("a binary model's classes are [negative, positive]")
        if self.task == "regression" and self.classes is not None:
            raise ValueError("a regression model has no classes")
        if self.classes is not None:
            _no_duplicates(self.classes, "class")
        return self


class LabelsSpec(Strict):
    """Observed outcomes: the topic, the field that holds the outcome and its type."""

    topic: str = Field("labels", min_length=1)
    field: Name = Field("label", description="The outcome's field in the label record.")
    type: Literal["int", "long", "double", "float", "boolean", "string"] = Field(
        "int",
        description="binary: int (0/1) or boolean; multiclass: string (the class) or int "
        "(its index); regression: double.",
    )


class DriftSpec(Strict):
    """The drift agent's thresholds for this use case (STREAMSCORE_DRIFT_*)."""

    psi_threshold: float | None = None
    ks_alpha: float | None = None
    ks_min_statistic: float | None = None
    min_window_events: int | None = None
    adwin_delta: float | None = None
    adwin_psi_scale: float | None = None
    missing_share_threshold: float | None = None
    stale_share_threshold: float | None = None
    window_size_s: float | None = None
    policy_k: int | None = None
    policy_m: int | None = None
    policy_cooldown_s: float | None = None
    policy_min_samples: int | None = None


class RetrainingSpec(Strict):
    """How a new version is trained (STREAMSCORE_RETRAIN_* for the generic settings)."""

    trainer: str = Field(
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="module:function; the module is looked for in the project's folder "
        "first (docs/project.md has the signature).",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Keyword parameters handed to the trainer."
    )
    holdout_share: float | None = None
    lookback_s: float | None = None
    seed: int | None = None
    every: str | None = None


class GatesSpec(Strict):
    """What a candidate must show before it ships (STREAMSCORE_RETRAIN_GATE_*)."""

    golden: Path | None = Field(
        None, description="A golden set (JSON Lines) of events and their expected decision."
    )
    logloss_margin: float | None = None
    auc_margin: float | None = None
    min_auc: float | None = None
    max_calibration_error: float | None = None
    min_labels: int | None = None
    min_positives: int | None = None
    golden_max_flips: int | None = None
    segment_min_rows: int | None = None
    segment_min_positives: int | None = None
    segment_positive_margin: float | None = None
    segment_auc_margin: float | None = None


Distribution = dict[str, Any]  # one key: the family; its value: the parameters


class EntitiesSpec(Strict):
    count: int = Field(1000, ge=1, description="Entities in the pool.")
    prefix: str = Field("entity-", description="Entity ids are prefix + a 6-digit number.")


class DriftScenario(Strict):
    """The drift the demo plays (and `simulate --drift-at` uses unless told otherwise)."""

    field: Name
    unit: Literal["sigma", "risk"] = "sigma"
    magnitude: float = Field(1.0, gt=0)


class SimulationSpec(Strict):
    """Synthetic events for the demo, `simulate` and starter models: a generator entry point
    (module:Class), or distributions per field, feature and outcome."""

    generator: str | None = Field(
        None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", description="module:Class."
    )
    entities: EntitiesSpec = Field(default_factory=EntitiesSpec)
    fields: dict[Name, Distribution] = Field(default_factory=dict)
    features: dict[Name, Distribution] = Field(default_factory=dict)
    outcome: dict[str, Any] | None = Field(
        None, description="How a label follows from the inputs (docs/project.md)."
    )
    drift: DriftScenario | None = None
    segments: list[str | None] = Field(
        default_factory=list, description="Values of the segment field, drawn per entity."
    )
    starter_rows: int = Field(20_000, ge=100, description="Rows a starter model trains on.")

    @model_validator(mode="after")
    def _one_way(self) -> SimulationSpec:
        if self.generator is None and not (self.fields or self.features):
            raise ValueError("give a generator, or distributions for fields and features")
        return self


class ProjectSpec(Strict):
    """The whole file."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=40)]
    description: str = ""
    events: EventsSpec
    features: FeatureViewSpec
    inputs: list[InputSpec] = Field(min_length=1)
    models: list[ModelSpec] = Field(min_length=1)
    labels: LabelsSpec = Field(default_factory=LabelsSpec)
    drift: DriftSpec = Field(default_factory=DriftSpec)
    retraining: RetrainingSpec
    gates: GatesSpec = Field(default_factory=GatesSpec)
    simulation: SimulationSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ProjectSpec:
        _no_duplicates([i.name for i in self.inputs], "input")
        _no_duplicates([m.name for m in self.models], "model")
        return self


def _no_duplicates(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} {name!r} appears twice")
        seen.add(name)
