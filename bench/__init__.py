"""Benchmarks run by `kontor bench NAME`: bench/<name>.py defines run(); app/benchmarks.py
loads it from its path (bench/ is not part of the installed package)."""
