import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_seqattn import datasets
from keras_seqattn.text import SequenceTokenizer, caption_batches


def _tokenizer():
    return SequenceTokenizer.from_corpus(["seven three one", "two", "a dog on grass"] * 20)


@pytest.mark.backend_independent(reason="tf.data pipeline only")
def test_batches_resize_convert_and_shift_captions():
    images = [np.full((20, 12, 3), 200, "uint8"), np.full((16, 16, 3), 50, "uint8")]
    pairs = tf.data.Dataset.from_generator(
        lambda: iter(zip(images, ["seven three", "two"])),
        output_signature=(tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.string)),
    )
    tokenizer = _tokenizer()
    features, labels = next(iter(caption_batches(pairs, tokenizer, (16, 16), 1, 5, batch_size=2)))
    assert features["images"].shape == (2, 16, 16, 1) and features["images"].dtype == tf.float32
    # RGB -> grey by luminance, values stay on the 0-255 scale.
    np.testing.assert_allclose(features["images"][1], 50.0, atol=0.5)
    ids = features["target_ids"].numpy()
    assert ids[:, 0].tolist() == [2, 2] and labels.numpy()[1].tolist()[:2] == [ids[1, 1], 3]
    np.testing.assert_array_equal(
        labels.numpy()[:, :-1][ids[:, 1:] != 0], ids[:, 1:][ids[:, 1:] != 0]
    )
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        caption_batches([(images[0], "two")], tokenizer, (16, 16), 1, 5)


def test_coco_captions_by_its_tfds_name_with_mock_data():
    from keras_seqattn.applications import AttentionCaptioner

    with tfds.testing.mock_data(num_examples=3, policy=tfds.testing.MockPolicy.USE_CODE):
        pairs = datasets.load_caption_pairs("coco_captions", "train")
        model = AttentionCaptioner.from_corpus(
            pairs,
            vocabulary_size=200,
            image_size=(32, 32),
            filters=(8, 16),
            embedding_dim=8,
            hidden_dim=16,
            feature_dim=8,
            max_caption_length=8,
        )
        features, labels = next(iter(model.prepare(pairs, batch_size=4)))
        examples = list(datasets.load("coco_captions", "train").as_numpy_iterator())
    assert model.num_channels == 3 and features["images"].shape == (4, 32, 32, 3)
    assert labels.shape == (4, 8)
    result = model.caption(examples[0]["image"][None], max_length=4)  # any size: resized
    assert result.attention[0].shape[1] == 64


@pytest.mark.backend_independent(reason="tf.data pipeline only")
def test_drop_remainder_drops_only_the_short_last_batch():
    images = np.zeros((5, 16, 16, 1), "uint8")
    pairs = tf.data.Dataset.from_tensor_slices((images, ["two"] * 5))
    batches = caption_batches(pairs, _tokenizer(), (16, 16), 1, 5, batch_size=2)
    assert [len(labels) for _, labels in batches] == [2, 2, 1]
    whole = caption_batches(pairs, _tokenizer(), (16, 16), 1, 5, 2, drop_remainder=True)
    assert [len(labels) for _, labels in whole] == [2, 2]
