"""`streamscore models add NAME --from PATH`: ship a model trained elsewhere as the next version.

The file (a TorchScript ``.pt``, an ONNX ``.onnx``, or a Triton model folder) is checked
against the project's inputs first: one that does not fit is refused in one line, and
nothing is written. Then it is added to the model repository with its card (the source
path, its sha256, the project file's hash, the time) and its reference distributions,
computed from a sample of recent events (the tail of the events topic, their entities'
features from the store, as a worker would build the rows now) or from a file of events the
user names; and it is loaded on Triton.

Adding a version never changes who decides: when no routing is stored yet, the primary (the
newest ready version *before* this one) is stored first. Then `models shadow add NAME:V`
watches the new version, and `models promote` (by the promotion rule) makes it decide.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from confluent_kafka import Consumer, TopicPartition

from streams.cli.common import Bootstrap, RedisUrl, TritonUrl, error, fail, given, out

SAMPLE = 5_000  # recent events read for the reference distributions


def add(
    name: Annotated[str, typer.Argument(help="The model's name (a new name starts a model).")],
    source: Annotated[
        Path, typer.Option("--from", help="A TorchScript .pt, an ONNX .onnx or a Triton folder.")
    ],
    sample: Annotated[
        Path | None,
        typer.Option(help="Events (JSON Lines) for the reference, instead of recent events."),
    ] = None,
    sample_size: Annotated[int, typer.Option(help="Recent events read.", min=100)] = SAMPLE,
    redis_url: RedisUrl = None,
    triton_url: TritonUrl = None,
    bootstrap: Bootstrap = None,
) -> None:
    """Add a model trained elsewhere as NAME's next version: its card, its reference
    distributions, loaded on Triton. The primary does not change."""
    from inference.repository import ModelRepository, RepositoryError
    from inference.shipping import check_file, ship_file
    from streams.cli.models import _chosen, _session
    from streams.retraining.serving import serving_config
    from streams.worker.settings import WorkerSettings

    settings = WorkerSettings(
        **given(
            redis={"url": redis_url},
            triton={"grpc_url": triton_url},
            kafka={"bootstrap": bootstrap},
        )
    )
    project = settings.use_case()
    if not source.exists():
        raise fail(f"{source}: no such file or folder")
    problem = check_file(project, name, source)
    if problem is not None:
        raise fail(problem)
    rows, said = _sample_rows(settings, sample, sample_size)
    repo = ModelRepository(settings.model_repository)
    with _session(redis_url, triton_url) as (store, triton):
        before = _chosen(store, triton)  # stored before the new version could be taken for it
        try:
            version = ship_file(
                project, repo, name, source.resolve(), rows, serving_config(settings.triton)
            )
        except RepositoryError as exc:
            raise fail(exc) from None
        triton.load_model(name)  # picks up the new version
        deadline = time.monotonic() + settings.triton.timeout_s * 60
        while not triton.is_model_ready(name, str(version)):
            if time.monotonic() > deadline:
                raise fail(f"{name}:{version} was written but Triton did not load it: see its log")
            time.sleep(0.2)
    card = repo.card(name, version)
    sha = card.source.sha256 if card.source.kind == "file" else ""
    out.print(f"added {name}:{version} from {source} (sha256 {sha[:12]}...); {said}")
    if before is not None:
        out.print(
            f"the primary stays {before.primary}; to watch it: "
            f"streamscore models shadow add {name}:{version}"
        )


def _sample_rows(settings: Any, sample: Path | None, size: int) -> tuple[np.ndarray | None, str]:
    """The model input rows of the reference sample, and a sentence saying what they are."""
    from schemas.project import FieldColumns
    from streams.client import input_files

    project = settings.use_case()
    layout = project.layout
    if sample is not None:
        with open(sample, encoding="utf-8") as stream:
            loaded = input_files.load(stream, "jsonl", project, "event")
        if loaded.problems:
            for problem in loaded.problems[:20]:
                error(problem)
            raise fail(f"nothing added: {len(loaded.problems)} problem(s) in {sample}")
        records, where = loaded.records, f"{sample}"
    else:
        records, where = _recent_events(settings, size), "recent events"
    if not records:
        return None, (
            "no events to sample: the version has no reference distributions "
            "(drift is not watched for it)"
        )
    entity = project.spec.events.entity
    features = _features(settings, [str(r[entity]) for r in records])
    columns = FieldColumns.of_records(records, layout.number_fields, layout.text_fields)
    x = layout.matrix(columns, features)
    x = x[np.isfinite(x).all(axis=1)]
    return x, f"reference distributions from {len(x):,} {where}"


def _features(settings: Any, entities: list[str]) -> np.ndarray:
    """The entities' vectors as the store holds them now (defaults where missing or stale)."""
    from streams.features.store import VectorLayout

    layout = VectorLayout.of(settings.use_case())
    client = settings.redis.client()
    try:
        raw = client.mget([layout.key(e) for e in entities])
    except Exception:  # no store: the rows take the defaults, as a worker's would
        return np.tile(layout.defaults, (len(entities), 1))
    finally:
        client.close()
    return layout.unpack_many(raw).values


def _recent_events(settings: Any, size: int) -> list[dict[str, Any]]:
    """Up to ``size`` of the latest events, spread over the topic's partitions."""
    from streams.client.errors import KAFKA_LOG

    topic = settings.topics.events
    codec = settings.codec("event")
    consumer = Consumer(
        settings.kafka.librdkafka(
            **{
                "group.id": "streamscore-models-add",
                "enable.auto.commit": False,
                "logger": KAFKA_LOG,
            }
        )
    )
    records: list[dict[str, Any]] = []
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or not meta.partitions:
            return []
        per = max(1, size // len(meta.partitions))
        ends, assignment = {}, []
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
                assignment.append(TopicPartition(topic, p, max(low, high - per)))
        if not assignment:
            return []
        consumer.assign(assignment)
        deadline = time.monotonic() + 30
        while ends and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 1.0):
                if msg.error() is not None:
                    continue
                p, offset = msg.partition(), msg.offset()
                if p not in ends:
                    continue
                # A bad event is no sample (the worker dead-letters it).
                with contextlib.suppress(Exception):
                    records.append(codec.decode(msg.value() or b""))
                if offset is not None and offset + 1 >= ends[p]:
                    del ends[p]
    except Exception as exc:  # Kafka unreachable: no sample, said so
        error(f"recent events not read ({exc}): no reference distributions")
        return []
    finally:
        consumer.close()
    return records
