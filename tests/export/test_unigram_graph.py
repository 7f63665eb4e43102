"""UnigramGraph: SentencePiece unigram encoding in core TensorFlow ops, against sentencepiece."""

import io
import random

import pytest
import sentencepiece
import tensorflow as tf
from num2words import num2words

from keras_seqattn.export._unigram_graph import UnigramGraph

pytestmark = pytest.mark.backend_independent(reason="TensorFlow ops only; no Keras backend")


def _train(texts, model_type="unigram", **options):
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        vocab_size=60,
        model_type=model_type,
        hard_vocab_limit=False,
        minloglevel=2,
        **options,
    )
    return model.getvalue()


@pytest.fixture(scope="module")
def proto():
    return _train([num2words(n, lang="de") for n in range(0, 1000, 3)])


def test_pieces_equal_sentencepiece(proto):
    rng = random.Random(0)
    # Unknown characters (runs of them fold into one piece), NFKC (full-width
    # letters, ligatures, fractions), tabs and runs of spaces, an empty text.
    alphabet = list("abcdefghinrstuwz  -éüßäö€ÿ\tＡ") + ["ﬁ", "№", "½", "\u2581"]
    texts = ["", "   ", "€€ zwei", "dreihundert und zwölf", "x" * 40]
    texts += [num2words(n, lang="de") for n in range(0, 3000, 17)]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(200)]
    processor = sentencepiece.SentencePieceProcessor()
    processor.LoadFromSerializedProto(proto)
    pieces = UnigramGraph(proto)(tf.constant(texts)).to_list()
    for text, got in zip(texts, pieces):
        assert [p.decode() for p in got] == processor.encode(text, out_type=str), repr(text)


def test_a_bpe_model_is_refused():
    proto = _train([num2words(n) for n in range(0, 500, 3)], model_type="bpe")
    with pytest.raises(ValueError, match="unigram models only. Received: kind='BPE'"):
        UnigramGraph(proto)
