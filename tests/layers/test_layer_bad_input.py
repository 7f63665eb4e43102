"""Bad input to every public layer: a clear `ValueError`/`TypeError`, Keras style.

Constructor arguments are checked from the signatures: `SIGNATURE_CASES` gives
each argument of every public layer the bad values of its kind (a size, a rate,
a flag, a choice, ...), read from its name and default, so a new layer or
argument is covered by adding its required arguments to `REQUIRED`. What a
signature cannot say (an argument of its own kind, arguments that must agree,
every call-time check) is written by hand in `CASES`: a layer, its constructor
arguments, optionally a call with good inputs that builds it (`warmup`), the
bad call (or none, when the constructor itself must fail), the exception and a
regex of its message. Every message must also end with `Received: name=value`,
as Keras's own do.

What the layers do with input that is not an error is pinned down below the
table: an empty batch gives an empty batch, and NaN/inf values propagate,
except from padding (which the attention layers zero before attending) and
from NaN pixels (which `ImageFeatureEncoder` replaces by 0).
"""

import re
from typing import NamedTuple

import keras
import numpy as np
import pytest
from keras import ops

from keras_seqattn import layers as L
from tests import signature_cases

# A line of the message (Keras wraps errors raised in `call()` with its own
# lines around them) ends with `Received: name=value`.
ENDS_WITH_RECEIVED = re.compile(r"Received: [^=\n]+=[^\n]*$", re.MULTILINE)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def f(*shape, value=None):
    """float32 `shape`, uniform in [0, 1) (or filled with `value`)."""
    if value is not None:
        return np.full(shape, value, "float32")
    return np.random.default_rng(0).random(shape).astype("float32")


def i(*shape, high=5):
    """int32 token ids in [1, high)."""
    return np.random.default_rng(0).integers(1, high, size=shape).astype("int32")


class Case(NamedTuple):
    layer: type
    init: dict
    call: tuple | None  # (args, kwargs); None when the constructor must fail
    error: type
    match: str
    warmup: tuple | None = None  # (args, kwargs) of a good call that builds the layer


ENC = dict(num_heads=2, intermediate_dim=8)
DEC = dict(num_heads=2, intermediate_dim=8)
RNN = dict(vocabulary_size=10, embedding_dim=4, units=4)
PATCH = dict(image_size=8, patch_size=4, hidden_dim=8, num_channels=1)
CNN = dict(filters=(4,))

CASES = {
    # BahdanauAttention
    "bahdanau/value_rank2": Case(
        L.BahdanauAttention,
        dict(units=4),
        ((f(2, 3), f(2, 6)), {}),
        ValueError,
        r"value.shape=\(2, 6\)",
    ),
    "bahdanau/query_rank4": Case(
        L.BahdanauAttention,
        dict(units=4),
        ((f(2, 1, 1, 3), f(2, 5, 6)), {}),
        ValueError,
        r"query.shape=\(2, 1, 1, 3\)",
    ),
    "bahdanau/query_dim_after_build": Case(
        L.BahdanauAttention,
        dict(units=4),
        ((f(2, 7), f(2, 5, 6)), {}),
        ValueError,
        r"query_dim 3.*query.shape=\(2, 7\)",
        warmup=((f(2, 3), f(2, 5, 6)), {}),
    ),
    "bahdanau/value_dim_after_build": Case(
        L.BahdanauAttention,
        dict(units=4),
        ((f(2, 3), f(2, 5, 7)), {}),
        ValueError,
        r"value_dim 6.*value.shape=\(2, 5, 7\)",
        warmup=((f(2, 3), f(2, 5, 6)), {}),
    ),
    "bahdanau/batch_mismatch": Case(
        L.BahdanauAttention,
        dict(units=4),
        ((f(2, 3), f(3, 5, 6)), {}),
        ValueError,
        r"same batch.*value.shape=\(3, 5, 6\)",
    ),
    "bahdanau/keys_width": Case(
        L.BahdanauAttention,
        dict(units=4),
        ((f(2, 3), f(2, 5, 6)), dict(keys=f(2, 5, 3))),
        ValueError,
        r"\(batch, 5, 4\).*keys.shape=\(2, 5, 3\)",
    ),
    "bahdanau/padding_mask_length": Case(
        L.BahdanauAttention,
        dict(units=4),
        ((f(2, 3), f(2, 5, 6)), dict(padding_mask=np.ones((2, 4), bool))),
        ValueError,
        r"\(batch, 5\).*padding_mask.shape=\(2, 4\)",
    ),
    "bahdanau/int_value": Case(
        L.BahdanauAttention,
        dict(units=4),
        ((f(2, 3), i(2, 5, 6)), {}),
        TypeError,
        r"floating.*value.dtype=int32",
    ),
    # TransformerEncoder
    "encoder/num_heads_not_dividing": Case(
        L.TransformerEncoder,
        dict(num_heads=3, intermediate_dim=8),
        ((f(2, 5, 16),), {}),
        ValueError,
        r"width 16.*num_heads=3",
    ),
    "encoder/rank2": Case(
        L.TransformerEncoder, ENC, ((f(2, 16),), {}), ValueError, r"inputs.shape=\(2, 16\)"
    ),
    "encoder/width_after_build": Case(
        L.TransformerEncoder,
        ENC,
        ((f(2, 5, 8),), {}),
        ValueError,
        r"hidden_dim 16.*inputs.shape=\(2, 5, 8\)",
        warmup=((f(2, 5, 16),), {}),
    ),
    "encoder/int_inputs": Case(
        L.TransformerEncoder, ENC, ((i(2, 5, 16),), {}), TypeError, r"floating.*inputs.dtype=int32"
    ),
    "encoder/padding_mask_length": Case(
        L.TransformerEncoder,
        ENC,
        ((f(2, 5, 16),), dict(padding_mask=np.ones((2, 4), bool))),
        ValueError,
        r"padding_mask.shape=\(2, 4\)",
    ),
    "encoder/attention_mask_rank2": Case(
        L.TransformerEncoder,
        ENC,
        ((f(2, 5, 16),), dict(attention_mask=np.ones((5, 5), bool))),
        ValueError,
        r"attention_mask.shape=\(5, 5\)",
    ),
    # TransformerDecoder
    "decoder/num_heads_not_dividing": Case(
        L.TransformerDecoder,
        dict(num_heads=3, intermediate_dim=8),
        ((f(2, 4, 16), f(2, 5, 16)), {}),
        ValueError,
        r"width 16.*num_heads=3",
    ),
    "decoder/encoder_rank2": Case(
        L.TransformerDecoder,
        DEC,
        ((f(2, 4, 16), f(2, 16)), {}),
        ValueError,
        r"encoder_sequence.shape=\(2, 16\)",
    ),
    "decoder/decoder_rank4": Case(
        L.TransformerDecoder,
        DEC,
        ((f(2, 4, 4, 4), f(2, 5, 16)), {}),
        ValueError,
        r"decoder_sequence.shape=\(2, 4, 4, 4\)",
    ),
    "decoder/batch_mismatch": Case(
        L.TransformerDecoder,
        DEC,
        ((f(2, 4, 16), f(3, 5, 16)), {}),
        ValueError,
        r"same batch.*encoder_sequence.shape=\(3, 5, 16\)",
    ),
    "decoder/decoder_width_after_build": Case(
        L.TransformerDecoder,
        DEC,
        ((f(2, 4, 8), f(2, 5, 16)), {}),
        ValueError,
        r"hidden_dim 16.*decoder_sequence.shape=\(2, 4, 8\)",
        warmup=((f(2, 4, 16), f(2, 5, 16)), {}),
    ),
    "decoder/encoder_width_after_build": Case(
        L.TransformerDecoder,
        DEC,
        ((f(2, 4, 16), f(2, 5, 8)), {}),
        ValueError,
        r"encoder_dim 12.*encoder_sequence.shape=\(2, 5, 8\)",
        warmup=((f(2, 4, 16), f(2, 5, 12)), {}),
    ),
    "decoder/int_decoder_sequence": Case(
        L.TransformerDecoder,
        DEC,
        ((i(2, 4, 16), f(2, 5, 16)), {}),
        TypeError,
        r"floating.*decoder_sequence.dtype=int32",
    ),
    "decoder/int_encoder_sequence": Case(
        L.TransformerDecoder,
        DEC,
        ((f(2, 4, 16), i(2, 5, 16)), {}),
        TypeError,
        r"floating.*encoder_sequence.dtype=int32",
    ),
    "decoder/decoder_padding_mask": Case(
        L.TransformerDecoder,
        DEC,
        ((f(2, 4, 16), f(2, 5, 16)), dict(decoder_padding_mask=np.ones((2, 5), bool))),
        ValueError,
        r"padding_mask.shape=\(2, 5\)",
    ),
    "decoder/encoder_padding_mask": Case(
        L.TransformerDecoder,
        DEC,
        ((f(2, 4, 16), f(2, 5, 16)), dict(encoder_padding_mask=np.ones((2, 4), bool))),
        ValueError,
        r"\(batch, 5\).*encoder_padding_mask.shape=\(2, 4\)",
    ),
    # PositionalEncoding
    "positional/rank2": Case(
        L.PositionalEncoding,
        dict(sequence_length=8),
        ((f(2, 4),), {}),
        ValueError,
        r"inputs.shape=\(2, 4\)",
    ),
    "positional/too_long": Case(
        L.PositionalEncoding,
        dict(sequence_length=8),
        ((f(2, 9, 4),), {}),
        ValueError,
        "9 positions.*sequence_length=8",
    ),
    "positional/start_index_past_end": Case(
        L.PositionalEncoding,
        dict(sequence_length=8, mode="learned"),
        ((f(2, 3, 4),), dict(start_index=6)),
        ValueError,
        r"positions 6\.\.8.*start_index=6",
    ),
    "positional/start_index_negative": Case(
        L.PositionalEncoding,
        dict(sequence_length=8),
        ((f(2, 3, 4),), dict(start_index=-1)),
        ValueError,
        "start_index=-1",
    ),
    "positional/learned_width_after_build": Case(
        L.PositionalEncoding,
        dict(sequence_length=8, mode="learned"),
        ((f(2, 3, 6),), {}),
        ValueError,
        r"width 4.*inputs.shape=\(2, 3, 6\)",
        warmup=((f(2, 3, 4),), {}),
    ),
    "positional/int_inputs": Case(
        L.PositionalEncoding,
        dict(sequence_length=8),
        ((i(2, 3, 4),), {}),
        TypeError,
        r"floating.*inputs.dtype=int32",
    ),
    # PatchEncoder
    "patch/not_divisible": Case(
        L.PatchEncoder, dict(PATCH, image_size=10), None, ValueError, "image_size=10, patch_size=4"
    ),
    "patch/image_size_float": Case(
        L.PatchEncoder, dict(PATCH, image_size=8.0), None, ValueError, "image_size=8.0"
    ),
    "patch/image_size_triple": Case(
        L.PatchEncoder,
        dict(PATCH, image_size=(8, 8, 8)),
        None,
        ValueError,
        r"image_size=\(8, 8, 8\)",
    ),
    "patch/wrong_size": Case(
        L.PatchEncoder,
        PATCH,
        ((f(2, 12, 8, 1),), {}),
        ValueError,
        r"\(batch, 8, 8, 1\).*images.shape=\(2, 12, 8, 1\)",
    ),
    "patch/wrong_channels_after_build": Case(
        L.PatchEncoder,
        PATCH,
        ((f(2, 8, 8, 3),), {}),
        ValueError,
        r"\(batch, 8, 8, 1\).*images.shape=\(2, 8, 8, 3\)",
        warmup=((f(2, 8, 8, 1),), {}),
    ),
    "patch/rank3": Case(
        L.PatchEncoder, PATCH, ((f(8, 8, 1),), {}), ValueError, r"images.shape=\(8, 8, 1\)"
    ),
    # ImageFeatureEncoder
    "image/filters_empty": Case(
        L.ImageFeatureEncoder, dict(filters=()), None, ValueError, r"filters=\(\)"
    ),
    "image/filters_int": Case(
        L.ImageFeatureEncoder, dict(filters=8), None, ValueError, "filters=8"
    ),
    "image/filters_zero": Case(
        L.ImageFeatureEncoder, dict(filters=(8, 0)), None, ValueError, r"filters=\(8, 0\)"
    ),
    "image/weights": Case(
        L.ImageFeatureEncoder,
        dict(backbone="MobileNetV2", weights="coco"),
        None,
        ValueError,
        "weights='coco'",
    ),
    "image/small_cnn_weights": Case(
        L.ImageFeatureEncoder, dict(weights="imagenet"), None, ValueError, "weights='imagenet'"
    ),
    "image/rank3": Case(
        L.ImageFeatureEncoder, CNN, ((f(8, 8, 1),), {}), ValueError, r"images.shape=\(8, 8, 1\)"
    ),
    "image/odd_side": Case(
        L.ImageFeatureEncoder,
        CNN,
        ((f(2, 9, 8, 1),), {}),
        ValueError,
        r"multiples of 2.*images.shape=\(2, 9, 8, 1\)",
    ),
    "image/wrong_channels_after_build": Case(
        L.ImageFeatureEncoder,
        CNN,
        ((f(2, 8, 8, 3),), {}),
        ValueError,
        r"\(batch, 8, 8, 1\).*images.shape=\(2, 8, 8, 3\)",
        warmup=((f(2, 8, 8, 1),), {}),
    ),
    "image/wrong_size_after_build": Case(
        L.ImageFeatureEncoder,
        CNN,
        ((f(2, 16, 16, 1),), {}),
        ValueError,
        r"\(batch, 8, 8, 1\).*images.shape=\(2, 16, 16, 1\)",
        warmup=((f(2, 8, 8, 1),), {}),
    ),
    # RNNEncoder
    "rnn_encoder/rank3": Case(
        L.RNNEncoder, RNN, ((i(2, 5, 1),), {}), ValueError, r"token_ids.shape=\(2, 5, 1\)"
    ),
    "rnn_encoder/float_ids": Case(
        L.RNNEncoder, RNN, ((f(2, 5),), {}), TypeError, r"integer.*token_ids.dtype=float32"
    ),
    # ContextRNNDecoder
    "context_decoder/context_rank3": Case(
        L.ContextRNNDecoder,
        RNN,
        ((i(2, 3), (f(2, 4),), f(2, 5, 4)), {}),
        ValueError,
        r"context.shape=\(2, 5, 4\)",
    ),
    "context_decoder/token_ids_rank1": Case(
        L.ContextRNNDecoder,
        RNN,
        ((i(2), (f(2, 4),), f(2, 4)), {}),
        ValueError,
        r"token_ids.shape=\(2,\)",
    ),
    "context_decoder/state_width": Case(
        L.ContextRNNDecoder,
        RNN,
        ((i(2, 3), (f(2, 5),), f(2, 4)), {}),
        ValueError,
        r"\(batch, 4\).*state shapes=\[\(2, 5\)\]",
    ),
    "context_decoder/lstm_one_state": Case(
        L.ContextRNNDecoder,
        dict(RNN, rnn_type="lstm"),
        ((i(2, 3), (f(2, 4),), f(2, 4)), {}),
        ValueError,
        r"2 tensor\(s\).*state=",
    ),
    "context_decoder/float_ids": Case(
        L.ContextRNNDecoder,
        RNN,
        ((f(2, 3), (f(2, 4),), f(2, 4)), {}),
        TypeError,
        r"integer.*token_ids.dtype=float32",
    ),
    "context_decoder/context_dim_after_build": Case(
        L.ContextRNNDecoder,
        RNN,
        ((i(2, 3), (f(2, 4),), f(2, 6)), {}),
        ValueError,
        r"context_dim 4.*context.shape=\(2, 6\)",
        warmup=((i(2, 3), (f(2, 4),), f(2, 4)), {}),
    ),
    # AttentionRNNDecoder
    "attention_decoder/values_rank2": Case(
        L.AttentionRNNDecoder,
        RNN,
        ((i(2, 3), (f(2, 4),), f(2, 6)), {}),
        ValueError,
        r"values.shape=\(2, 6\)",
    ),
    "attention_decoder/token_ids_rank3": Case(
        L.AttentionRNNDecoder,
        RNN,
        ((i(2, 3, 1), (f(2, 4),), f(2, 5, 6)), {}),
        ValueError,
        r"token_ids.shape=\(2, 3, 1\)",
    ),
    "attention_decoder/float_ids": Case(
        L.AttentionRNNDecoder,
        RNN,
        ((f(2, 3), (f(2, 4),), f(2, 5, 6)), {}),
        TypeError,
        r"integer.*token_ids.dtype=float32",
    ),
    "attention_decoder/state_width": Case(
        L.AttentionRNNDecoder,
        RNN,
        ((i(2, 3), (f(2, 6),), f(2, 5, 6)), {}),
        ValueError,
        r"state shapes=\[\(2, 6\)\]",
    ),
    "attention_decoder/values_dim_after_build": Case(
        L.AttentionRNNDecoder,
        RNN,
        ((i(2, 3), (f(2, 4),), f(2, 5, 7)), {}),
        ValueError,
        r"value_dim 6.*values.shape=\(2, 5, 7\)",
        warmup=((i(2, 3), (f(2, 4),), f(2, 5, 6)), {}),
    ),
    "attention_decoder/padding_mask_length": Case(
        L.AttentionRNNDecoder,
        RNN,
        ((i(2, 3), (f(2, 4),), f(2, 5, 6)), dict(padding_mask=np.ones((2, 3), bool))),
        ValueError,
        r"padding_mask.shape=\(2, 3\)",
    ),
    # LuongRNNDecoder
    "luong_decoder/values_rank2": Case(
        L.LuongRNNDecoder,
        RNN,
        ((i(2, 3), (f(2, 4),), f(2, 6)), {}),
        ValueError,
        r"values.shape=\(2, 6\)",
    ),
    "luong_decoder/dot_width": Case(
        L.LuongRNNDecoder,
        dict(RNN, score_mode="dot"),
        ((i(2, 3), (f(2, 4),), f(2, 5, 6)), {}),
        ValueError,
        r"as wide as `units`=4.*values.shape=\(2, 5, 6\)",
    ),
    "luong_decoder/float_ids": Case(
        L.LuongRNNDecoder,
        RNN,
        ((f(2, 3), (f(2, 4),), f(2, 5, 6)), {}),
        TypeError,
        r"integer.*token_ids.dtype=float32",
    ),
    "luong_decoder/int_values": Case(
        L.LuongRNNDecoder,
        RNN,
        ((i(2, 3), (f(2, 4),), i(2, 5, 6)), {}),
        TypeError,
        r"values.dtype=int32",
    ),
    "luong_decoder/state_width": Case(
        L.LuongRNNDecoder,
        RNN,
        ((i(2, 3), (f(2, 6),), f(2, 5, 6)), {}),
        ValueError,
        r"state shapes=\[\(2, 6\)\]",
    ),
    "luong_decoder/values_dim_after_build": Case(
        L.LuongRNNDecoder,
        RNN,
        ((i(2, 3), (f(2, 4),), f(2, 5, 7)), {}),
        ValueError,
        r"value_dim 6.*values.shape=\(2, 5, 7\)",
        warmup=((i(2, 3), (f(2, 4),), f(2, 5, 6)), {}),
    ),
    "luong_decoder/padding_mask_length": Case(
        L.LuongRNNDecoder,
        RNN,
        ((i(2, 3), (f(2, 4),), f(2, 5, 6)), dict(padding_mask=np.ones((2, 3), bool))),
        ValueError,
        r"padding_mask.shape=\(2, 3\)",
    ),
    # DoublyStochasticRegularizer
    "regularizer/attention_rank2": Case(
        L.DoublyStochasticRegularizer,
        {},
        ((f(2, 3, 7), f(2, 4)), {}),
        ValueError,
        r"attention.shape=\(2, 4\)",
    ),
    "regularizer/mask_length": Case(
        L.DoublyStochasticRegularizer,
        {},
        ((f(2, 3, 7), f(2, 3, 4)), dict(mask=np.ones((2, 5), bool))),
        ValueError,
        r"\(batch, 3\).*mask.shape=\(2, 5\)",
    ),
}


# The smallest required arguments with which each public layer constructs.
REQUIRED = {
    L.AttentionRNNDecoder: RNN,
    L.BahdanauAttention: dict(units=4),
    L.ContextRNNDecoder: RNN,
    L.DoublyStochasticRegularizer: {},
    L.ImageFeatureEncoder: {},
    L.LuongRNNDecoder: RNN,
    L.PatchEncoder: PATCH,
    L.PositionalEncoding: dict(sequence_length=8),
    L.RNNEncoder: RNN,
    L.TransformerDecoder: DEC,
    L.TransformerEncoder: ENC,
}
# Arguments of a kind of their own: their cases are written by hand in `CASES`.
PARTICULAR = {"filters", "weights"}
SIGNATURE_CASES = signature_cases.signature_cases(REQUIRED)


@pytest.mark.parametrize("layer, name, value", SIGNATURE_CASES)
def test_bad_constructor_argument_raises_a_clear_error(layer, name, value):
    with pytest.raises(ValueError) as info:
        layer(**{**REQUIRED[layer], name: value})
    signature_cases.assert_clear_refusal(info.value, name, value)
    assert ENDS_WITH_RECEIVED.search(str(info.value)), str(info.value)


def test_every_constructor_argument_of_every_public_layer_is_checked():
    assert {layer.__name__ for layer in REQUIRED} == set(L.__all__), "add it to REQUIRED"
    by_hand = {name for case in CASES.values() for name in case.init}
    for layer, name in signature_cases.unclassified(REQUIRED):
        assert name in PARTICULAR and name in by_hand, (
            f"{layer}({name}=...): give it a kind in tests/signature_cases.py, "
            "or list it in PARTICULAR with cases of its own in CASES"
        )
    for layer, required in REQUIRED.items():
        layer(**required)  # the required arguments alone are good


@pytest.fixture(autouse=True)
def _seeded():
    """Overrides the conftest's: its `clear_session()` (a full `gc.collect()`)
    after each of these tiny cases would take most of the file's time."""
    keras.utils.set_random_seed(1234)


@pytest.fixture(autouse=True, scope="module")
def _clear_session_once():
    yield
    keras.backend.clear_session()


def _invoke(layer, call):
    args, kwargs = call
    return layer(*args, **kwargs)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_raises_a_clear_error(case):
    with pytest.raises(case.error) as info:
        layer = case.layer(**case.init)
        if case.call is not None:
            if case.warmup is not None:
                _invoke(layer, case.warmup)
            _invoke(layer, case.call)
    message = ANSI.sub("", str(info.value))
    assert re.search(case.match, message, re.DOTALL), message
    assert ENDS_WITH_RECEIVED.search(message), message


def test_every_public_layer_has_cases():
    covered = {case.layer.__name__ for case in CASES.values()}
    assert covered == set(L.__all__)


# An empty batch is not an error: every layer returns an empty batch.
EMPTY_BATCH = {
    "bahdanau": (lambda: L.BahdanauAttention(4), (f(0, 3), f(0, 5, 6)), (0, 6)),
    "encoder": (lambda: L.TransformerEncoder(**ENC), (f(0, 5, 16),), (0, 5, 16)),
    "decoder": (lambda: L.TransformerDecoder(**DEC), (f(0, 4, 16), f(0, 5, 16)), (0, 4, 16)),
    "positional": (lambda: L.PositionalEncoding(8, mode="learned"), (f(0, 3, 4),), (0, 3, 4)),
    "patch": (lambda: L.PatchEncoder(**PATCH), (f(0, 8, 8, 1),), (0, 5, 8)),
    "image": (lambda: L.ImageFeatureEncoder(**CNN), (f(0, 8, 8, 1),), (0, 16, 4)),
    "rnn_encoder": (lambda: L.RNNEncoder(**RNN), (i(0, 5),), (0, 5, 4)),
    "context_decoder": (
        lambda: L.ContextRNNDecoder(**RNN),
        (i(0, 3), (f(0, 4),), f(0, 4)),
        (0, 3, 10),
    ),
    "attention_decoder": (
        lambda: L.AttentionRNNDecoder(**RNN),
        (i(0, 3), (f(0, 4),), f(0, 5, 6)),
        (0, 3, 10),
    ),
    "luong_decoder": (
        lambda: L.LuongRNNDecoder(**RNN),
        (i(0, 3), (f(0, 4),), f(0, 5, 6)),
        (0, 3, 10),
    ),
    "regularizer": (lambda: L.DoublyStochasticRegularizer(), (f(0, 3, 7), f(0, 3, 4)), (0, 3, 7)),
}


@pytest.mark.parametrize("name", EMPTY_BATCH)
def test_empty_batch_gives_an_empty_batch(name):
    make, args, expected = EMPTY_BATCH[name]
    outputs = make()(*args)
    first = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
    assert tuple(first.shape) == expected


def _finite(x):
    return bool(np.all(np.isfinite(ops.convert_to_numpy(x))))


def _padded(batch, length, dim, real, value):
    """`(batch, length, dim)` data whose positions from `real` on hold `value`."""
    x = f(batch, length, dim)
    x[:, real:] = value
    mask = np.arange(length)[None].repeat(batch, 0) < real
    return x, mask


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_inf_padding_stays_out_of_real_positions(value):
    x, mask = _padded(2, 5, 16, 3, value)
    encoder = L.TransformerEncoder(**ENC)
    outputs, scores = encoder(x, padding_mask=mask, return_attention_scores=True)
    assert _finite(outputs[:, :3]) and _finite(scores[:, :, :3])  # real queries
    assert _finite(encoder(x, padding_mask=mask)[:, :3])  # the fused-kernel path too

    y, target_mask = _padded(2, 4, 16, 2, value)
    decoder = L.TransformerDecoder(**DEC)
    outputs = decoder(y, x, decoder_padding_mask=target_mask, encoder_padding_mask=mask)
    assert _finite(outputs[:, :2])

    context, weights = L.BahdanauAttention(4)(f(2, 3), x, padding_mask=mask)
    assert _finite(context) and _finite(weights)


def test_nan_at_a_real_position_propagates():
    x = f(2, 5, 16)
    x[0, 1] = np.nan
    outputs = ops.convert_to_numpy(L.TransformerEncoder(**ENC)(x))
    assert np.isnan(outputs[0]).all() and np.isfinite(outputs[1]).all()
    outputs = ops.convert_to_numpy(L.PositionalEncoding(8)(x))
    assert np.isnan(outputs[0, 1]).all() and np.isfinite(np.delete(outputs[0], 1, 0)).all()


def test_nan_pixels_become_black_and_inf_pixels_propagate():
    encoder = L.ImageFeatureEncoder(**CNN)
    images = f(2, 8, 8, 1, value=128.0)
    images[0, 0, 0, 0] = np.nan
    outputs = ops.convert_to_numpy(encoder(images))
    black = images.copy()
    black[0, 0, 0, 0] = 0.0
    np.testing.assert_allclose(outputs, ops.convert_to_numpy(encoder(black)), atol=1e-6)
    images[0, 0, 0, 0] = np.inf
    assert not _finite(encoder(images)[0])
