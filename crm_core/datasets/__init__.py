"""Importers for public data sets (../shared/datasets): each maps one set onto CRM records, so
models can be checked on data nobody here wrote. Files are read from a given folder, never
downloaded."""
