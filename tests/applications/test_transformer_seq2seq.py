import keras
import numpy as np
import pytest
from keras import ops

from keras_seqattn.applications import TransformerSeq2Seq
from keras_seqattn.applications.transformer_seq2seq import CONFIGS
from keras_seqattn.text import SPECIAL_TOKENS, SequenceTokenizer
from tests.applications import seq2seq_checks as checks
from tests.conftest import BACKEND

# The paper's shared English-German vocabulary has about 37000 tokens.
PAPER_VOCABULARY = 37000
# Exact parameter counts with one shared, tied PAPER_VOCABULARY embedding and
# sinusoidal positions; the paper reports "65M" for base and "213M" for big.
PARAMETER_COUNTS = {
    "transformer_base": 63_082_496,
    "transformer_big": 214_245_376,
    "transformer_small": 15_001_600,
    "transformer_tiny": 2_535_424,
}


def transformer_parameter_count(
    source_vocabulary,
    target_vocabulary,
    hidden_dim,
    num_layers,
    intermediate_dim,
    normalize_first=False,
    position_mode="sinusoidal",
    share_embeddings=False,
    tie_output_embedding=True,
    max_source_length=64,
    max_target_length=64,
    **unused,
):
    """The count by formula, from the paper's description of the blocks."""
    d, f = hidden_dim, intermediate_dim
    attention = 4 * (d * d + d)  # W_q, W_k, W_v, W_o with biases
    mlp = d * f + f + f * d + d
    norm = 2 * d
    encoder_block = attention + mlp + 2 * norm
    decoder_block = 2 * attention + mlp + 3 * norm
    count = num_layers * (encoder_block + decoder_block)
    count += target_vocabulary * d + (0 if share_embeddings else source_vocabulary * d)
    if position_mode == "learned":
        count += (max_source_length + max_target_length) * d
    if normalize_first:
        count += 2 * norm  # the final norm of each stack
    if not tie_output_embedding:
        count += d * target_vocabulary + target_vocabulary
    return count


def _paper_tokenizer():
    words = [f"w{i}" for i in range(PAPER_VOCABULARY - len(SPECIAL_TOKENS))]
    return SequenceTokenizer(list(SPECIAL_TOKENS) + words)


def _model(tokenizers, **kwargs):
    settings = dict(
        hidden_dim=32,
        num_layers=2,
        num_heads=4,
        intermediate_dim=64,
        dropout=0.0,
        max_source_length=24,
        max_target_length=30,
    )
    settings.update(kwargs)
    return TransformerSeq2Seq(*tokenizers, **settings)


def test_every_config_has_a_pinned_parameter_count():
    assert sorted(PARAMETER_COUNTS) == sorted(CONFIGS)
    for name, config in CONFIGS.items():
        expected = transformer_parameter_count(
            PAPER_VOCABULARY, PAPER_VOCABULARY, share_embeddings=True, **config
        )
        assert PARAMETER_COUNTS[name] == expected, name


@pytest.mark.only_backend(
    "tensorflow", reason="counts do not depend on the backend; big allocates 850 MB"
)
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=[pytest.mark.slow] if name == "transformer_big" else [])
        for name in sorted(CONFIGS)
    ],
)
def test_named_config_parameter_count(name):
    tokenizer = _paper_tokenizer()
    model = TransformerSeq2Seq.from_named_config(name, tokenizer, tokenizer, share_embeddings=True)
    assert model.count_params() == PARAMETER_COUNTS[name]
    keras.backend.clear_session(free_memory=True)


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"normalize_first": True, "position_mode": "learned"},
        {"tie_output_embedding": False},
    ],
)
def test_parameter_count_of_variants(char_tokenizers, variant):
    model = _model(char_tokenizers, **variant)
    vs, vt = (t.vocabulary_size for t in char_tokenizers)
    settings = dict(hidden_dim=32, num_layers=2, intermediate_dim=64, max_source_length=24)
    expected = transformer_parameter_count(vs, vt, max_target_length=30, **settings, **variant)
    assert model.count_params() == expected


def test_fit_learns(number_pairs, char_tokenizers):
    model = _model(char_tokenizers, num_layers=1, normalize_first=True)
    # XLA compiles the train step for minutes on a small CPU: only JAX needs it.
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=BACKEND == "jax")
    batches = model.prepare(checks.dataset(number_pairs), batch_size=32, shuffle=True).repeat()
    losses = model.fit(batches, steps_per_epoch=15, epochs=3, verbose=0).history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses


def test_greedy_and_beam_search(char_tokenizers):
    model = _model(char_tokenizers)
    texts = ["forty two", "one hundred"]
    greedy = model.translate(texts, max_length=10)
    beam = model.translate(texts, max_length=10, beam_width=1)
    np.testing.assert_array_equal(greedy.ids, beam.ids)
    np.testing.assert_allclose(beam.scores, greedy.scores, atol=1e-5)
    wide = model.translate(texts, max_length=10, beam_width=3, length_penalty=0.6)
    assert wide.ids.shape == (2, 10) and np.all(np.isfinite(wide.scores))
    assert wide.attention_heads[0].shape[1] == 4


@pytest.mark.parametrize("normalize_first", [False, True])
def test_cached_generation_equals_full_graph_argmax(char_tokenizers, normalize_first):
    model = _model(char_tokenizers, normalize_first=normalize_first)
    texts = ["forty two", "seven", "ninety nine"]
    result = model.translate(texts, max_length=12)
    source_ids = model.tokenize_sources(texts)
    start = np.full((3, 1), model.target_tokenizer.start_id, "int32")
    target_ids = np.concatenate([start, result.ids[:, :-1]], axis=1)
    logits = model({"source_ids": source_ids, "target_ids": target_ids})
    full = np.argmax(ops.convert_to_numpy(logits), axis=-1)
    for row, length in enumerate(result.lengths):
        np.testing.assert_array_equal(result.ids[row, :length], full[row, :length])


def test_attention_over_real_source_tokens(char_tokenizers):
    model = _model(char_tokenizers)
    result = model.translate(["forty two", "seven"], max_length=8)
    for row in range(2):
        source_len = len(result.input_tokens[row])
        heads = result.attention_heads[row]
        assert heads.shape == (result.lengths[row], 4, source_len)
        np.testing.assert_allclose(heads.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(result.attention[row], heads.mean(1), atol=1e-6)


def test_generation_ends_without_stop(char_tokenizers):
    model = _model(char_tokenizers, tie_output_embedding=False)
    bias = ops.convert_to_numpy(model.output_dense.bias).copy()
    bias[model.target_tokenizer.stop_id] = -1e9  # [STOP] becomes impossible
    model.output_dense.bias.assign(bias)
    for beam_width in (1, 3):
        result = model.translate(["forty two"], max_length=7, beam_width=beam_width)
        assert result.lengths.tolist() == [7]
        assert model.target_tokenizer.stop_id not in result.ids[0]


def test_shared_embeddings(number_pairs):
    texts = [s for pair in number_pairs for s in pair]
    tokenizer = SequenceTokenizer.from_corpus(texts, mode="character")
    model = _model((tokenizer, tokenizer), share_embeddings=True)
    names = [w.path for w in model.weights]
    assert not any("source_embedding" in n for n in names)
    assert len(model.translate(["seven"], max_length=4).text) == 1


def test_save_load_keeps_vocabulary_and_outputs(char_tokenizers, tmp_path):
    model = _model(char_tokenizers, normalize_first=True, position_mode="learned")
    path = str(tmp_path / "model.keras")
    model.save(path)
    revived = keras.saving.load_model(path, safe_mode=True)
    texts = ["forty two", "ninety nine"]
    expected, actual = model.translate(texts), revived.translate(texts)
    assert actual.text == expected.text
    for got, want in zip(actual.attention_heads, expected.attention_heads):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert revived.get_config() == model.get_config()


def test_bad_input(char_tokenizers):
    with pytest.raises(ValueError, match="share_embeddings=True"):
        _model(char_tokenizers, share_embeddings=True)
    with pytest.raises(ValueError, match="num_heads=5"):
        _model(char_tokenizers, num_heads=5)
    with pytest.raises(ValueError, match="num_layers=0"):
        _model(char_tokenizers, num_layers=0)
    with pytest.raises(ValueError, match="config_name=transformer_huge"):
        TransformerSeq2Seq.from_named_config("transformer_huge", *char_tokenizers)
    with pytest.raises(ValueError, match="max_source_length"):
        _model(char_tokenizers, max_source_length=1)
    model = _model(char_tokenizers)
    with pytest.raises(ValueError, match="max_length=31"):
        model.translate(["seven"], max_length=31)
    with pytest.raises(ValueError, match="beam_width"):
        model.translate(["seven"], beam_width=0)
    with pytest.warns(UserWarning, match="truncated"):
        model.translate(["seven hundred and seventy seven thousand"], max_length=4)
