"""The client SDK: send events and labels to StreamScore, read predictions back.

    from streams.client import ClientSettings, EventProducer, PredictionConsumer

    settings = ClientSettings()                      # STREAMSCORE_KAFKA_BOOTSTRAP, ...
    with EventProducer(settings) as producer:         # flushes; raises DeliveryError
        producer.send({"event_id": "e-1", "entity_id": "acct-000042", ...})
    for prediction in PredictionConsumer(settings, from_beginning=True, limit=10):
        print(prediction["event_id"], prediction["score"])

Everything else in this package is private to StreamScore.
"""

from streams.client.admin import check_topic
from streams.client.consumer import (
    PredictionConsumer,
    RecordConsumer,
    Undecodable,
    schema_for_topic,
)
from streams.client.errors import ClientError, DeliveryError, DeliveryFailure, InvalidRecordError
from streams.client.producer import EventProducer, LabelProducer, RecordProducer
from streams.client.settings import ClientSettings, KafkaConfig, RegistryConfig

__all__ = [
    "ClientError",
    "ClientSettings",
    "DeliveryError",
    "DeliveryFailure",
    "EventProducer",
    "InvalidRecordError",
    "KafkaConfig",
    "LabelProducer",
    "PredictionConsumer",
    "RecordConsumer",
    "RecordProducer",
    "RegistryConfig",
    "Undecodable",
    "check_topic",
    "schema_for_topic",
]
