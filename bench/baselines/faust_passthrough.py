"""Faust passthrough: the scoring agent's shape with no work in it, to price Faust itself.

Same app settings as streams/worker/engines/faust.py where they bear on speed (raw
serializers, stream buffer, producer acks and linger, commit interval, earliest offsets, no
web server, memory store) and the same loop: ``noack_take`` a micro-batch of N events or T
ms, send every record through the app's producer, wait for all acknowledgements, then ack
the batch. Only the decode / enrich / infer / encode in between is missing, so StreamScore ÷
this is the price of the work, and this ÷ raw passthrough the price of Faust (aiokafka,
asyncio, its streams).

    python -m bench.baselines.faust_passthrough --bootstrap H:P --input T --output T --group G
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from typing import Any, cast

import faust

from bench.baselines.stopping import baseline_parser


def create_app(args: argparse.Namespace) -> faust.App:
    app = faust.App(
        args.group,
        broker=[f"kafka://{host}" for host in args.bootstrap.split(",")],
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="bench-faust-"),
        broker_commit_interval=args.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=max(4 * args.batch_size, 4096),
        producer_acks=-1,
        producer_linger_ms=2,
        topic_allow_declare=False,
    )
    events = app.topic(args.input, key_type=bytes, value_type=bytes)
    output, size, within = args.output, args.batch_size, args.batch_timeout_ms / 1000.0

    @app.agent(events, name="forward")
    async def forward(stream: faust.StreamT[bytes]) -> None:
        async for batch in cast(Any, stream).noack_take(size, within=within):
            send = app.producer.send
            pending = [
                await send(output, e.message.key, e.message.value, None, None, None) for e in batch
            ]
            await asyncio.gather(*pending)
            for event in batch:
                await stream.ack(event)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = baseline_parser(__doc__)
    parser.add_argument("--commit-interval-s", type=float, default=1.0)
    args = parser.parse_args(argv)
    from faust.worker import Worker

    app = create_app(args)
    Worker(app, loglevel="warn", quiet=True, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main()
