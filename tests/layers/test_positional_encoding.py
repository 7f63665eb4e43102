import numpy as np
import pytest
from keras import ops

from keras_seqattn.layers import PositionalEncoding
from tests.test_case import TestCase


def _sinusoid_table(length, dim, max_wavelength=10000.0):
    """The paper's table, section 3.5, written out independently."""
    table = np.zeros((length, dim))
    for pos in range(length):
        for i in range(0, dim, 2):
            angle = pos / max_wavelength ** (i / dim)
            table[pos, i] = np.sin(angle)
            if i + 1 < dim:
                table[pos, i + 1] = np.cos(angle)
    return table.astype("float32")


class TestPositionalEncoding(TestCase):
    @pytest.mark.parametrize("mode, weights", [("sinusoidal", 0), ("learned", 1)])
    def test_layer_behaviour(self, mode, weights, tmp_path):
        x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        self.run_layer_test(
            PositionalEncoding,
            init_kwargs={
                "sequence_length": 7,
                "mode": mode,
                "max_wavelength": 100,
                "initializer": "he_normal",
            },
            input_data=x,
            expected_output_shape=(2, 5, 8),
            expected_num_trainable_weights=weights,
            input_mask=np.ones((2, 5), bool),
            expected_output_mask=np.ones((2, 5), bool),
            tmp_path=tmp_path,
        )

    def test_sinusoids_match_the_paper(self):
        x = np.random.default_rng(0).normal(size=(2, 50, 12)).astype("float32")
        outputs = PositionalEncoding(64)(x)
        self.assertAllClose(outputs, x + _sinusoid_table(50, 12), atol=1e-5)

    def test_concatenated_layout_matches_marian(self):
        # Hugging Face's MarianSinusoidalPositionalEmbedding, written out: the sines of
        # the paper's even features first, then the cosines of its odd ones.
        x = np.random.default_rng(0).normal(size=(2, 50, 12)).astype("float32")
        layer = PositionalEncoding(64, layout="concatenated")
        paper = _sinusoid_table(50, 12)
        marian = np.concatenate([paper[:, 0::2], paper[:, 1::2]], axis=1)
        self.assertAllClose(layer(x), x + marian, atol=1e-5)
        start = ops.convert_to_tensor(7, dtype="int32")
        self.assertAllClose(layer(x[:, 7:8], start_index=start), x[:, 7:8] + marian[7:8], atol=1e-5)
        config = layer.get_config()
        assert config["layout"] == "concatenated"
        assert PositionalEncoding.from_config(config).get_config() == config
        assert "layout" not in PositionalEncoding(64).get_config()  # older files: no key

    @pytest.mark.parametrize("mode", ["sinusoidal", "learned"])
    def test_start_index_gives_the_same_rows(self, mode):
        x = np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
        layer = PositionalEncoding(6, mode=mode)
        full = ops.convert_to_numpy(layer(x))
        for index in range(6):
            start = ops.convert_to_tensor(index, dtype="int32")
            step = layer(x[:, index : index + 1], start_index=start)
            self.assertAllClose(step, full[:, index : index + 1], atol=1e-6)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="sequence_length=0"):
            PositionalEncoding(0)
        with pytest.raises(ValueError, match="mode=.rotary.$"):
            PositionalEncoding(8, mode="rotary")
        with pytest.raises(ValueError, match="layout='halves'"):
            PositionalEncoding(8, layout="halves")
        with pytest.raises(ValueError, match=r"even.*inputs.shape=\(1, 2, 7\)"):
            PositionalEncoding(4, layout="concatenated")(np.zeros((1, 2, 7), "float32"))
        with pytest.raises(ValueError, match="sequence_length=4"):
            PositionalEncoding(4)(np.zeros((1, 5, 8), "float32"))
        with pytest.raises(ValueError, match=r"inputs.shape=\(1, 8\)"):
            PositionalEncoding(4)(np.zeros((1, 8), "float32"))
