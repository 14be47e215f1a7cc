"""Benchmarks: problems, peer adapters, and scripts that print side-by-side tables.

See BENCHMARKS.md. Nothing in asktell imports this package; the scripts run as
``python benchmarks/<name>.py``.
"""
