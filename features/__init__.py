"""Contact features: pure polars transforms, snapshots, and the Feast contract around them."""
