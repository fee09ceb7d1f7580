"""The scoring worker: the process `streamscore worker` runs, in the order data flows.

engines/      take micro-batches from Kafka (faust | librdkafka, as `--engine` names them)
batch_runner  score, publish, acknowledge in order; hold, retry or dead-letter on faults
pipeline      one batch: decode, ONE feature read, ONE request per model, encode
messages      every in/out/dead-letter type
sink          publish outputs through librdkafka, one future per batch
runtime       build all of the above from the settings
settings      WorkerSettings: every STREAMSCORE_* a worker reads
metrics       what /metrics exports
"""
