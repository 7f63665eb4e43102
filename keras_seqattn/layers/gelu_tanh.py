"""The tanh approximation of GELU, by name, for checkpoints trained with it."""

import keras


@keras.saving.register_keras_serializable(package="keras_seqattn")
def gelu_tanh(x):
    """GELU in its tanh form: `0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`.

    Keras's `"gelu"` is the exact `x * Phi(x)`. The original ViT (Flax's
    `nn.gelu`), BERT-era code and Hugging Face's `"gelu_new"` and
    `"gelu_pytorch_tanh"` use this approximation; the two differ by up to
    about `1e-3`, so a checkpoint reproduces its logits only with its own form.
    Pass `activation="gelu_tanh"` to the Transformer blocks and
    `VisionTransformer`.

    Example:

    >>> float(gelu_tanh(keras.ops.convert_to_tensor(1.0)))  # exact GELU: 0.841345
    0.8411919...

    Reference:
        Hendrycks and Gimpel (2016), Gaussian Error Linear Units (GELUs), section 2.
    """
    return keras.activations.gelu(x, approximate=True)
