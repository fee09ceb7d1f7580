"""The StreamScore benchmark harness: `python -m bench` (`make bench`, `make bench-quick`).

Speed is reported as ratios against baselines run in the same run on the same machine, never
asserted in tests. Modules: options (what to run), stack (services), load (events), configs
and baselines/ (what is measured), throughput, latency, cpu, scrape, components (how),
report and markdown (what comes out), harness (the order of it all).
"""
