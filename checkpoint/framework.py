"""The framework's classes that a checkpoint can name, ``(module, class, kind)``: the one
table. A class is known once its module is imported (``registry.classes``)."""
_LAYERS = ("FullyConnected ReLU TanH Sigmoid SoftMax Flatten Conv Pooling Dropout "
           "BatchNormalization RNN LSTM GRU Embedding LastStep Bidirectional Attention")
FRAMEWORK = [(f"Layers.{name}", name, "layer") for name in _LAYERS.split()] + [
    (module, name, kind) for module, kind, names in (
        ("Layers.Initializers", "initializer", "Constant UniformRandom UniformFanOut Xavier He"),
        ("Optimization.Constraints", "regularizer", "L2_Regularizer L1_Regularizer"),
        ("Optimization.Optimizers", "optimizer", "Sgd SgdWithMomentum Adam"),
        ("Optimization.Loss", "loss", "CrossEntropyLoss L2Loss"),
        ("Optimization.Schedules", "schedule", "ExponentialDecay StepDecay"),
        ("Optimization.Schedules", "stopper", "EarlyStopping"),
        ("NeuralNetwork", "network", "NeuralNetwork")) for name in names.split()] + [
    (f"Models.{name}", name, "network") for name in ("LeNet", "RowMNIST", "CharModel", "Seq2Seq")]
