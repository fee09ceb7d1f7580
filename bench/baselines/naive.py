"""The naive pipeline: StreamScore's work, one event at a time.

For each event: decode it, one Redis ``GET`` of its packed feature vector, one Triton gRPC
request (a batch of 1) to the primary model, encode the prediction, produce it. Synchronous
clients, as a first version would be written; not crippled: the clients are reused, hiredis
parses the replies, the producer does not wait per record (delivery reports are served with
``poll(0)``), and offsets are auto-committed by librdkafka. The output records are the
same as the worker's (same schema, same fields, same decision thresholds).

    python -m bench.baselines.naive --bootstrap H:P --input T --output T --group G \
        --redis-url redis://H:P/0 --triton H:P --model scorer --model-version 1
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import redis
import tritonclient.grpc as grpcclient
from confluent_kafka import Consumer, Producer

from bench.baselines.stopping import baseline_parser, stop_flag
from schemas.codec import codec_for
from schemas.errors import DecodeError
from schemas.features import EVENT_FEATURE_NAMES, INPUT_TENSOR, N_FEATURES, OUTPUT_TENSOR
from streams.features.store import DEFAULTS, ROW_BYTES
from streams.worker.pipeline import PipelineConfig


def main(argv: list[str] | None = None) -> None:
    parser = baseline_parser(__doc__, batching=False)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--triton", required=True)
    parser.add_argument("--model", default="scorer")
    parser.add_argument("--model-version", default="1")
    args = parser.parse_args(argv)
    stop = stop_flag()

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
    events, predictions = codec_for("event"), codec_for("prediction")
    thresholds = PipelineConfig()
    wanted = [grpcclient.InferRequestedOutput(OUTPUT_TENSOR)]
    n_event = len(EVENT_FEATURE_NAMES)
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
            raw = store.get("features:" + event["entity_id"])
            t2 = time.perf_counter()
            x = np.empty((1, N_FEATURES), dtype=np.float32)
            x[0, :n_event] = [event[f] for f in EVENT_FEATURE_NAMES]
            missing = not isinstance(raw, bytes) or len(raw) != ROW_BYTES
            x[0, n_event:] = DEFAULTS if missing else np.frombuffer(raw, dtype="<f4")  # type: ignore[arg-type]
            tensor = grpcclient.InferInput(INPUT_TENSOR, [1, N_FEATURES], "FP32")
            tensor.set_data_from_numpy(x)
            result = triton.infer(
                args.model, [tensor], model_version=args.model_version, outputs=wanted
            )
            scores = result.as_numpy(OUTPUT_TENSOR).reshape(-1)
            t3 = time.perf_counter()
            value = predictions.encode(
                {
                    "event_id": event["event_id"],
                    "entity_id": event["entity_id"],
                    "model_name": args.model,
                    "model_version": args.model_version,
                    "score": float(scores[0]),
                    "decision": thresholds.decide(scores)[0],
                    "features_missing": missing,
                    "event_time": event["event_time"],
                    "scored_at": datetime.now(UTC),
                    "timings": {
                        "decode_ms": (t1 - t0) * 1e3,
                        "features_ms": (t2 - t1) * 1e3,
                        "infer_ms": (t3 - t2) * 1e3,
                        "publish_ms": 0.0,
                    },
                }
            )
            producer.produce(args.output, value, event["entity_id"].encode())
            producer.poll(0)
    finally:
        producer.flush(30)
        consumer.close()
        triton.close()
        store.close()


if __name__ == "__main__":
    main()
