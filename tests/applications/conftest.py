import pytest
from num2words import num2words

from keras_seqattn.text import SequenceTokenizer


@pytest.fixture(scope="session")
def number_pairs():
    """English -> German number words, small enough to learn in seconds."""
    return [(num2words(n), num2words(n, lang="de")) for n in range(1, 100)]


@pytest.fixture(scope="session")
def char_tokenizers(number_pairs):
    sources, targets = zip(*number_pairs)
    return (
        SequenceTokenizer.from_corpus(list(sources), mode="character"),
        SequenceTokenizer.from_corpus(list(targets), mode="character"),
    )
