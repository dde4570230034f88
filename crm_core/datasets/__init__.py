"""Public data sets (../shared/datasets) as a company would bring them: one folder per set
holding `dataset.toml` (its files in load order, each with its mapping file) and `models.toml`
(the models it is judged on), loaded by the generic importer. Instacart, whose file gives only
relative days between orders, is still mapped by its own code. Files are read from a given
folder, never downloaded."""
