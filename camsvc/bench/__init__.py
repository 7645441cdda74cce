"""Benchmarks against the real simulator: each prints a table and writes JSON under bench-results/.

Their commands are ``camsvc bench ...`` (camsvc/cli/bench.py); never timed unit tests.
"""
