"""Evaluation on the shared real-world data sets, through the CRM importers and our models."""
