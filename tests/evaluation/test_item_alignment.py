import numpy as np
import pytest

from keras_seqattn.evaluation import item_alignment

pytestmark = pytest.mark.backend_independent(reason="NumPy metric; no Keras backend involved")

SOURCE = ["▁forty", "▁two", "▁,", "▁seven", "[STOP]"]
OUTPUT = ["▁quarante", "▁deux", "▁,", "▁sept", "[STOP]"]


def test_item_mass_and_monotone_on_a_hand_made_map():
    attention = np.array(
        [
            [0.6, 0.2, 0.1, 0.1, 0.0],  # quarante: item 0 = columns 0-1 (+ band: 2)
            [0.1, 0.5, 0.0, 0.0, 0.4],  # deux
            [0.0, 0.0, 1.0, 0.0, 0.0],  # "," is not scored
            [0.5, 0.0, 0.0, 0.25, 0.25],  # sept: item 1 = column 3 (+ band: 2, 4)
            [0.0, 0.0, 0.0, 0.0, 1.0],  # [STOP] is not scored
        ]
    )
    result = item_alignment(attention, SOURCE, OUTPUT, band=0)
    assert result["tokens"] == 3
    np.testing.assert_allclose(result["item_mass"], (0.8 + 0.6 + 0.25) / 3)
    # Peaks of the scored rows: 0, 1, 0 -> one step of two moves left.
    assert result["monotone"] == 0.5
    banded = item_alignment(attention, SOURCE, OUTPUT, band=1)
    np.testing.assert_allclose(banded["item_mass"], (0.9 + 0.6 + 0.5) / 3)


def test_an_item_the_source_lacks_scores_zero_and_rows_are_normalised():
    output = ["▁un", "▁,", "▁deux", "▁,", "▁trois"]
    attention = np.full((5, 3), 2.0)  # Unnormalised rows: shares of each row's sum.
    result = item_alignment(attention, ["▁one", "▁,", "▁two"], output, band=0)
    np.testing.assert_allclose(result["item_mass"], (1 / 3 + 1 / 3 + 0) / 3)


def test_nothing_to_score_and_bad_shapes():
    result = item_alignment(np.ones((1, 2)), ["▁one", "[STOP]"], ["[STOP]"])
    assert result["tokens"] == 0 and np.isnan(result["item_mass"])
    with pytest.raises(
        ValueError, match=r"must be \(len\(output_tokens\), len\(input_tokens\)\) = \(5, 5\)"
    ):
        item_alignment(np.ones((5, 4)), SOURCE, OUTPUT)
    with pytest.raises(ValueError, match="`band` must be an int >= 0. Received: band=-1"):
        item_alignment(np.ones((5, 5)), SOURCE, OUTPUT, band=-1)
