"""Data layers: objects with ``next() -> (input_batch, label_batch)`` and ``get_test_set()``.

The classifiers' datasets (``Datasets``, ``MNIST``, with ``RowMNISTData`` reading digits row
by row) give one-hot labels; the sequence tasks (``Sequences``) give regression targets;
``Names`` gives surnames as character tokens with one-hot next characters per step.
``Dates`` gives human-written dates as character tokens with their ISO form as one-hot
characters per step (sequence to sequence).
``idx`` reads MNIST's file format.
"""
