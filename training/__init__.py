"""Labels, time-based splits, the one `run(spec)` pipeline, MLflow tracking and promotion."""
