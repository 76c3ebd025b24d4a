"""The import pipeline: stage rows, reconcile them in chunks, finalize."""
