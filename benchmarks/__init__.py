"""On-demand benchmarks (``python -m benchmarks``); never part of the test run."""
