"""Protocol layer: the statement and the training-proof relation."""
