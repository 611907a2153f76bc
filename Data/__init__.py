"""Data layers: objects with ``next() -> (input_batch, label_batch)`` and ``get_test_set()``.

The classifiers' datasets (``Datasets``, ``MNIST``, with ``RowMNISTData`` reading digits row
by row) give one-hot labels; the sequence tasks (``Sequences``) give regression targets;
``Names`` gives surnames as character tokens with one-hot next characters per step.
``idx`` reads MNIST's file format.
"""
