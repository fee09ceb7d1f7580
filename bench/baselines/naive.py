"""The naive pipeline: StreamScore's work, one event at a time.

For each event of the bench's project (bench/stack.py): decode it, one Redis ``GET`` of its
packed feature vector, one Triton gRPC request (a batch of 1) to the primary model, encode
the prediction, produce it. Synchronous clients, as a first version would be written; not
crippled: the clients are reused, hiredis parses the replies, the producer does not wait
per record (delivery reports are served with ``poll(0)``), and offsets are auto-committed by
librdkafka. The output records are the same as the worker's (same schema, same fields, the
same decider: the project's).

    python -m bench.baselines.naive --bootstrap H:P --input T --output T --group G \
        --redis-url redis://H:P/0 --triton H:P --model scorer --model-version 1
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import redis
import tritonclient.grpc as grpcclient
from confluent_kafka import Consumer, Producer

from bench.baselines.stopping import baseline_parser, stop_flag
from bench.stack import bench_project, project_codec
from inference.contract import tensors_of
from schemas.errors import DecodeError
from schemas.project import FieldColumns
from streams.features.store import VectorLayout


def attribute_text(value: Any) -> str:
    """An attribute's value as a prediction's attributes map carries it (as the worker)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def main(argv: list[str] | None = None) -> None:
    parser = baseline_parser(__doc__, batching=False)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--triton", required=True)
    parser.add_argument("--model", default=None, help="default: the project's first model")
    parser.add_argument("--model-version", default="1")
    args = parser.parse_args(argv)
    stop = stop_flag()

    project = bench_project()
    model = args.model or project.default_model.name
    spec = project.spec.events
    layout, vectors = project.layout, VectorLayout.of(project)
    numbers, text = layout.number_fields, layout.text_fields
    tensors, decider = tensors_of(project, model), project.decider(model)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
        }
    )
    producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all", "linger.ms": 2})
    store = redis.Redis.from_url(args.redis_url)
    triton = grpcclient.InferenceServerClient(args.triton)
    events, predictions = project_codec("event"), project_codec("prediction")
    wanted = [grpcclient.InferRequestedOutput(tensors.output)]
    consumer.subscribe([args.input])
    try:
        while not stop.is_set():
            msg = consumer.poll(0.1)
            if msg is None or msg.error() is not None:
                continue
            t0 = time.perf_counter()
            try:
                event = events.decode(msg.value() or b"")
            except DecodeError:
                continue  # the bench sends no bad events
            t1 = time.perf_counter()
            entity = event[spec.entity]
            raw = store.get(vectors.key(entity))
            t2 = time.perf_counter()
            found = vectors.unpack_many([raw if isinstance(raw, bytes) else None])
            fields = FieldColumns.of_records([event], numbers, text)
            x = layout.matrix(fields, found.values)
            tensor = grpcclient.InferInput(tensors.input, [1, tensors.width], "FP32")
            tensor.set_data_from_numpy(x)
            result = triton.infer(model, [tensor], model_version=args.model_version,
                                  outputs=wanted)  # fmt: skip
            outputs = decider.outputs(result.as_numpy(tensors.output).reshape(1, -1))
            t3 = time.perf_counter()
            value = predictions.encode(
                {
                    "event_id": event[spec.id],
                    "entity_id": entity,
                    "model_name": model,
                    "model_version": args.model_version,
                    "score": float(decider.scores(outputs)[0]),
                    "decision": decider.names_of(decider.decide(outputs))[0],
                    "features_missing": bool(found.missing[0]),
                    "event_time": event[spec.time],
                    "scored_at": datetime.now(UTC),
                    "timings": {
                        "decode_ms": (t1 - t0) * 1e3,
                        "features_ms": (t2 - t1) * 1e3,
                        "infer_ms": (t3 - t2) * 1e3,
                        "publish_ms": 0.0,
                    },
                    "role": "primary",
                    "features_stale": bool(found.stale[0]),
                    "outputs": outputs[0].tolist(),
                    "attributes": {
                        name: attribute_text(event[name])
                        for name in spec.attributes
                        if event.get(name) is not None
                    },
                }
            )
            producer.produce(args.output, value, entity.encode())
            producer.poll(0)
    finally:
        producer.flush(30)
        consumer.close()
        triton.close()
        store.close()


if __name__ == "__main__":
    main()
