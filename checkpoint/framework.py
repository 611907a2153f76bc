"""The framework's own classes that a checkpoint can name: the one table of them.

Each entry is ``(module, class, kind)``. A class is known once its module is imported
(``registry.classes``): this package imports none of them, and the name a file holds is
only ever a key into this table or into what ``register`` added.
"""
_LAYERS = ("FullyConnected", "ReLU", "TanH", "Sigmoid", "SoftMax", "Flatten", "Conv", "Pooling",
           "Dropout", "BatchNormalization", "RNN", "LSTM", "GRU", "Embedding", "LastStep",
           "Bidirectional", "Attention")
FRAMEWORK = ([(f"Layers.{name}", name, "layer") for name in _LAYERS] + [
    ("Layers.Initializers", name, "initializer")
    for name in ("Constant", "UniformRandom", "UniformFanOut", "Xavier", "He")] + [
    ("Optimization.Constraints", "L2_Regularizer", "regularizer"),
    ("Optimization.Constraints", "L1_Regularizer", "regularizer"),
    ("Optimization.Optimizers", "Sgd", "optimizer"),
    ("Optimization.Optimizers", "SgdWithMomentum", "optimizer"),
    ("Optimization.Optimizers", "Adam", "optimizer"),
    ("Optimization.Loss", "CrossEntropyLoss", "loss"),
    ("Optimization.Loss", "L2Loss", "loss"),
    ("Optimization.Schedules", "ExponentialDecay", "schedule"),
    ("Optimization.Schedules", "StepDecay", "schedule"),
    ("Optimization.Schedules", "EarlyStopping", "stopper"),
    ("NeuralNetwork", "NeuralNetwork", "network"),
    ("Models.LeNet", "LeNet", "network"),
    ("Models.RowMNIST", "RowMNIST", "network"),
    ("Models.CharModel", "CharModel", "network"),
    ("Models.Seq2Seq", "Seq2Seq", "network")])
