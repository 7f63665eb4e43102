"""TransformerSeq2Seq's named architectures and the checks of its architecture arguments."""

from keras_seqattn.layers.positional_encoding import POSITION_MODES, SINUSOID_LAYOUTS
from keras_seqattn.models._arguments import check_sizes

# Named architectures. Parameter counts for a given vocabulary are pinned in
# tests/applications/test_transformer_seq2seq.py.
CONFIGS = {
    # Vaswani et al. (2017), table 3, "base".
    "transformer_base": dict(
        hidden_dim=512, num_layers=6, num_heads=8, intermediate_dim=2048, dropout=0.1
    ),
    # Vaswani et al. (2017), table 3, "big".
    "transformer_big": dict(
        hidden_dim=1024, num_layers=6, num_heads=16, intermediate_dim=4096, dropout=0.3
    ),
    # The constructor's defaults: a few minutes per epoch on a laptop CPU.
    "transformer_small": dict(
        hidden_dim=256, num_layers=3, num_heads=4, intermediate_dim=1024, dropout=0.1
    ),
    # Seconds per epoch on CPU: tests, demos, toy data.
    "transformer_tiny": dict(
        hidden_dim=64, num_layers=2, num_heads=4, intermediate_dim=128, dropout=0.1
    ),
}


_DEFAULT_OPTIONS = dict(
    activation="relu", position_layout="interleaved", scale_embedding=True, output_bias=False
)


def check_position(position_mode, position_layout):
    """The position settings, under the application's names (the layer says `mode`)."""
    if position_mode not in POSITION_MODES:
        raise ValueError(
            f"`position_mode` must be one of {POSITION_MODES}. "
            f"Received: position_mode={position_mode!r}"
        )
    if position_layout not in SINUSOID_LAYOUTS:
        raise ValueError(
            f"`position_layout` must be one of {SINUSOID_LAYOUTS}. "
            f"Received: position_layout={position_layout!r}"
        )


def _check_architecture(hidden_dim, num_layers, num_heads):
    check_sizes(hidden_dim=hidden_dim, num_layers=num_layers, num_heads=num_heads)
    if hidden_dim % num_heads:
        raise ValueError(
            f"`num_heads` must divide `hidden_dim`={hidden_dim}. Received: num_heads={num_heads!r}"
        )
