"""The public data sets as a company would bring them: mapping files over the generic importer
(one folder per data set: `dataset.toml` lists its files in load order, each with its mapping
file, and `models.toml` the models it is judged on)."""
