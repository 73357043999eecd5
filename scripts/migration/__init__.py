"""The design's migration as a checked runbook: `python -m scripts migrate`."""
