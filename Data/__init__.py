"""Data layers: objects with ``next() -> (input_batch, label_batch)`` and ``get_test_set()``.

The classifiers' datasets (``Datasets``, ``MNIST``) give one-hot labels; the sequence
tasks (``Sequences``) give regression targets. ``idx`` reads MNIST's file format.
"""
