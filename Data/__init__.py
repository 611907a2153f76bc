"""Data layers: objects with ``next() -> (input_batch, one_hot_labels)`` and ``get_test_set()``."""
