"""A model card: the lineage of one model version, in ``card.json`` beside its files.

Every version in the model repository carries one (inference/repository.py writes it in the
same atomic rename as the model), so that anyone can say what a version learnt from and
reproduce it: the exact range of the topics it read (per partition, the offsets; and the
event-time bounds that filtered them), the rows and labels that came out, the layout of its
inputs, the gate's metrics and verdict, the version it was gated against, the code and the
training configuration (seed included), and the request that caused it.

Why a strict, versioned model rather than a free dict (the old ``metadata.json``): a card
is read back by ``streamscore models reproduce`` and checked before a version is routed, so
a card that does not say what it must is refused with the file and the field named, never
half-used. ``card_version`` changes when a field's meaning does: version 2 names the project
file (its hash) and the trainer entry point with its params; a version 1 card (the built-in
MLP's fields, no project) still reads, as the built-in trainer with those params.

A version added from a file (`streamscore models add NAME --from PATH`) has a ``file``
source: the path it came from and its sha256; nothing trained it here, so its card has no
training run and no dataset.

Pure: no Kafka, no Triton. Metrics and reasons are copied generically from the retraining
outcome, so a new gate's figures land here without this module knowing of it.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, JsonValue, Tag, ValidationError

from infra.errors import StreamScoreError

FILE_NAME = "card.json"
PACKAGE = "streamscore"


class CardError(StreamScoreError):
    """A version's card is missing or does not parse; ``reason`` names the field."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"card {path}: {reason}")
        self.path = path
        self.reason = reason


class _Strict(BaseModel):
    # NaN (an AUC without both classes) is written as NaN and read back, never as null.
    model_config = ConfigDict(
        strict=True, frozen=True, extra="forbid", ser_json_inf_nan="constants"
    )


class PartitionRange(_Strict):
    """Offsets [start, end) of one partition: end is the end offset when reading began."""

    partition: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class TopicRange(_Strict):
    role: Literal["events", "labels", "features"]
    topic: str
    partitions: list[PartitionRange]


class TopicsSource(_Strict):
    """Read from the topics: these offsets, events kept when event_time is in [from, to]."""

    kind: Literal["topics"] = "topics"
    from_ms: int
    to_ms: int
    topics: list[TopicRange]


class SyntheticSource(_Strict):
    """Drawn from the project's simulator (a starter model, tests, the demo, the bench)."""

    kind: Literal["synthetic"] = "synthetic"
    generator: str = "the project's simulator"
    seed: int | None = None


class FileSource(_Strict):
    """Trained elsewhere and added from a file or a Triton model folder."""

    kind: Literal["file"] = "file"
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Dataset(_Strict):
    rows: int = Field(ge=0)
    positives: int = Field(ge=0)
    stats: dict[str, float] = Field(default_factory=dict)


class Gate(_Strict):
    """The gate's verdict and the configuration it applied, whatever its checks (its
    metrics are the card's)."""

    accepted: bool
    reasons: list[str]
    config: dict[str, JsonValue]
    decisions: dict[str, JsonValue] | None = None  # score -> decision thresholds it used


class Request(_Strict):
    request_id: str
    reason: str
    requested_by: str
    alert_ids: list[str]
    requested_at: int  # epoch ms


class Training(_Strict):
    """What reproduces the training run: the trainer and its params, the seed, the holdout,
    torch's threads (float sums may group differently with another thread count)."""

    trainer: str  # module:function, as the project file names it
    params: dict[str, JsonValue] = Field(default_factory=dict)
    seed: int
    holdout_share: float | None = None
    torch_threads: int = Field(ge=1)


class MLPTraining(_Strict):
    """A version 1 card's training run: always the built-in MLP, its params as fields."""

    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    learning_rate: float = Field(gt=0)
    hidden: int = Field(ge=1)
    seed: int
    holdout_share: float | None = None
    torch_threads: int = Field(ge=1)

    def as_run(self) -> Training:
        params: dict[str, JsonValue] = {
            "epochs": self.epochs, "batch_size": self.batch_size,
            "learning_rate": self.learning_rate, "hidden": self.hidden,
        }  # fmt: skip
        return Training(
            trainer=BUILT_IN_TRAINER, params=params, seed=self.seed,
            holdout_share=self.holdout_share, torch_threads=self.torch_threads,
        )  # fmt: skip


class ProjectRef(_Strict):
    """The project file the version was made for: its name and the sha256 of its bytes."""

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Code(_Strict):
    commit: str | None  # git commit of the working tree; None outside a checkout
    package_version: str
    dirty: bool | None = None  # uncommitted changes to tracked files


def _training_shape(value: object) -> str:
    if isinstance(value, Training) or (isinstance(value, dict) and "trainer" in value):
        return "<trainer>"
    return "<mlp>"


class ModelCard(_Strict):
    card_version: Literal[1, 2] = 2
    created_at: int  # epoch ms
    source: Annotated[TopicsSource | SyntheticSource | FileSource, Field(discriminator="kind")]
    dataset: Dataset | None = None
    feature_layout: str = Field(pattern=r"^[0-9a-f]{64}$")  # InputLayout.hash
    metrics: dict[str, float]
    gate: Gate | None = None
    parent: str | None = None  # NAME:VERSION it was gated against
    code: Code
    request: Request | None = None
    # A version 1 card's run has the MLP's fields; a version 2 card's names its trainer.
    training: (
        Annotated[
            Annotated[Training, Tag("<trainer>")] | Annotated[MLPTraining, Tag("<mlp>")],
            Discriminator(_training_shape),
        ]
        | None
    ) = None
    project: ProjectRef | None = None

    @property
    def run(self) -> Training | None:
        """The training run, a version 1 card's read as the built-in trainer's."""
        return self.training.as_run() if isinstance(self.training, MLPTraining) else self.training


BUILT_IN_TRAINER = "inference.training:train"


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a folder's files (their relative paths and bytes, in order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


@functools.cache
def code_version() -> Code:
    """The code this process runs: its git commit when it runs from a checkout (read once)."""
    root = Path(__file__).resolve().parent.parent
    commit: str | None = None
    dirty: bool | None = None
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        if head.returncode == 0:
            commit = head.stdout.strip()
            status = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=root, capture_output=True, text=True, timeout=10,
            )  # fmt: skip
            dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        version = "unknown"
    return Code(commit=commit, package_version=version, dirty=dirty)


def refusal(model: str, exc: CardError) -> str:
    """Why ``model`` (NAME:VERSION) is not loaded nor routed, in one line."""
    return f"{model} refuses to load: its card {exc.path} does not parse: {exc.reason}"


def now_ms() -> int:
    return int(time.time() * 1000)


def path_of(folder: Path) -> Path:
    return folder / FILE_NAME


def write(card: ModelCard, folder: Path) -> Path:
    path = path_of(folder)
    path.write_text(card.model_dump_json(indent=2) + "\n")
    return path


def read(folder: Path) -> ModelCard:
    """The card of the version in ``folder``; :class:`CardError` naming the field if bad."""
    path = path_of(folder)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CardError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CardError(path, f"unreadable: {exc}") from exc
    try:
        return ModelCard.model_validate_json(text)
    except ValidationError as exc:
        raise CardError(path, _reason(exc)) from None


def _reason(exc: ValidationError) -> str:
    """The first problem in one line, with its field; how many more there are."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"] if not str(p).startswith("<"))  # union tags
    line = f"field '{loc}': {first['msg']}" if loc else first["msg"]
    return line + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
