from feast import FileSource

from features.settings import SNAPSHOT_FILE

# Relative to the store's repo_path (the data home's feast folder), so the definitions hold
# no machine-specific path.
contact_snapshots = FileSource(
    name="contact_feature_snapshots",
    path=SNAPSHOT_FILE,
    timestamp_field="event_timestamp",
    description="Monthly contact feature snapshots computed by features.snapshots.",
)
