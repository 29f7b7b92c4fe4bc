"""The benchmarks behind the figures quoted in issue notes (run ``benchmarks/run.py``)."""
