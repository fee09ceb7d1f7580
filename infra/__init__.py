"""Local launchers for Kafka, Redis and Triton; Prometheus and Grafana configuration."""
