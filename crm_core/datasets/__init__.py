"""Public data sets (../shared/datasets) as a company would bring them: one folder per set
holding `dataset.toml` (its files in load order, each with its mapping file) and `models.toml`
(the models it is judged on, if the built-ins are not), loaded by the generic importer. Files
are read from a given folder, never downloaded."""
