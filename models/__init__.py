"""Estimators, metrics and explanations: pure computation, no I/O."""
