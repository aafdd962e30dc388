"""A custom network for ``bench run --config docs/examples/custom_model.yaml``.

A builder takes the input shape, the number of classes and the run's ``RunSpec`` and returns
a Keras model ending in ``n_classes`` softmax outputs; it reads what it needs from the spec
(``spec.architecture()`` holds the study's ``arch`` values, ``dropout`` and ``regularizer``).
"""

import keras


def build(input_shape, n_classes, spec):
    arch = spec.architecture()
    width = int(arch.get("width", 64))
    rate = arch.get("dropout") or 0.0
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(width, activation="relu")(x)
    h = keras.layers.Dropout(rate)(h) if rate else h
    x = keras.layers.Concatenate()([x, h])  # a skip connection: not a preset's shape
    outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)
