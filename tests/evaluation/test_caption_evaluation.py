import numpy as np
import pytest

from keras_seqattn.evaluation import (
    box_attention_mass,
    caption_bleu,
    caption_cider,
    caption_exact_match,
    caption_tokens,
    word_localization,
)

independent = pytest.mark.backend_independent(reason="NumPy and metric libraries only")


@independent
def test_box_attention_mass_on_a_hand_made_map():
    attention = np.zeros((4, 4))
    attention[0, 0], attention[0, 1], attention[3, 3] = 0.5, 0.25, 0.25
    # The top-left quarter of the image holds cells (0..1, 0..1).
    assert box_attention_mass(attention, (0.0, 0.0, 0.5, 0.5)) == pytest.approx(0.75)
    # Half of cell (0, 1) lies left of x = 0.375: 0.5 + 0.25 / 2.
    assert box_attention_mass(attention, (0.0, 0.0, 0.25, 0.375)) == pytest.approx(0.625)
    assert box_attention_mass(attention, (0.0, 0.0, 1.0, 1.0)) == pytest.approx(1.0)
    # Unnormalised maps are normalised; a zero map has no mass anywhere.
    assert box_attention_mass(4 * attention, (0.75, 0.75, 1.0, 1.0)) == pytest.approx(0.25)
    assert box_attention_mass(np.zeros((2, 2)), (0, 0, 1, 1)) == 0.0
    with pytest.raises(ValueError, match="normalised"):
        box_attention_mass(attention, (0.0, 0.0, 2.0, 1.0))
    with pytest.raises(ValueError, match="grid"):
        box_attention_mass(attention.ravel(), (0, 0, 1, 1))


@independent
def test_word_localization_scores_correct_words_in_their_boxes():
    left, right = np.zeros((2, 2)), np.zeros((2, 2))
    left[:, 0], right[:, 1] = 0.5, 0.5
    attention = np.stack([left, right, right])  # "seven", "three", [STOP]
    boxes = [(0.0, 0.0, 1.0, 0.5), (0.0, 0.5, 1.0, 1.0)]
    scores = word_localization(attention, ["seven", "three", "[STOP]"], "seven three", boxes)
    assert scores == [pytest.approx(1.0), pytest.approx(1.0)]
    # A wrong word names no object: skipped. Attention on the wrong box scores 0.
    assert word_localization(attention, ["one", "three"], "seven three", boxes) == [1.0]
    assert word_localization(attention[::-1], ["seven"], "seven three", boxes) == [0.0]
    with pytest.raises(ValueError, match="one box per"):
        word_localization(attention, ["seven"], "seven three one", boxes)


@independent
def test_caption_metrics_use_the_libraries_with_several_references():
    predictions = ["a dog runs on the grass", "two cats sleep"]
    references = [["A dog runs on the grass.", "a brown dog running"], "two cats are sleeping"]
    assert caption_tokens("A dog, running.") == "a dog running"
    assert caption_exact_match(predictions, references) == 0.5
    assert 0 < caption_bleu(predictions, references) < 100
    assert caption_bleu(["seven three one two"], [["seven three one two"]]) == pytest.approx(100)
    perfect = caption_cider(["seven three", "one two"], [["seven three"], ["one two"]])
    assert perfect > caption_cider(["seven two", "one three"], [["seven three"], ["one two"]])
    with pytest.raises(ValueError, match="references for every"):
        caption_bleu(predictions, references[:1])
    with pytest.raises(ValueError, match="at least one reference"):
        caption_cider(predictions, [[], "x"])
