"""Raw passthrough: consume a batch, produce the same key and value bytes, no work at all.

The upper bound for anything that reads the events topic and writes one output per event
with librdkafka on this machine. Made fast on purpose: batches of ``--batch-size`` taken
with ``consume(num_messages=…)`` (the same N-or-T micro-batch as the worker), produced
without waiting, delivery reports served with ``poll(0)``; offsets committed once, at the
end. The producer waits for the same acknowledgement as the worker's (``acks=all``) and
lingers as long (2 ms).

    python -m bench.baselines.raw_passthrough --bootstrap H:P --input T --output T --group G
"""

from __future__ import annotations

import contextlib

from confluent_kafka import Consumer, KafkaException, Producer

from bench.baselines.stopping import baseline_parser, stop_flag


def main(argv: list[str] | None = None) -> None:
    parser = baseline_parser(__doc__)
    args = parser.parse_args(argv)
    stop = stop_flag()

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "acks": "all",
            "linger.ms": 2,
            "queue.buffering.max.messages": 500_000,
        }
    )
    consumer.subscribe([args.input])
    output, timeout = args.output, args.batch_timeout_ms / 1000.0
    consume, produce, poll = consumer.consume, producer.produce, producer.poll
    try:
        while not stop.is_set():
            for msg in consume(num_messages=args.batch_size, timeout=timeout):
                if msg.error() is not None:
                    continue
                try:
                    produce(output, msg.value(), msg.key())
                except BufferError:  # the local queue is full: let deliveries drain
                    poll(0.05)
                    produce(output, msg.value(), msg.key())
            poll(0)
    finally:
        producer.flush(30)
        with contextlib.suppress(KafkaException):  # nothing consumed: nothing to commit
            consumer.commit(asynchronous=False)
        consumer.close()


if __name__ == "__main__":
    main()
