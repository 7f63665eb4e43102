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


@pytest.fixture(scope="session")
def marian_dir(tmp_path_factory):
    """A tiny trained MarianMT directory (tests/applications/marian_reference.py)."""
    from tests.applications.marian_reference import make_marian_directory

    pytest.importorskip("transformers")
    path = tmp_path_factory.mktemp("opus-mt-tiny")
    make_marian_directory(path)
    return path


@pytest.fixture(scope="session")
def marian_reference(marian_dir):
    """transformers' `(MarianTokenizer, MarianMTModel)` of `marian_dir`."""
    import warnings

    import transformers

    with warnings.catch_warnings():  # "Recommended: pip install sacremoses." (unused here)
        warnings.simplefilter("ignore", UserWarning)
        tokenizer = transformers.MarianTokenizer.from_pretrained(marian_dir)
    return tokenizer, transformers.MarianMTModel.from_pretrained(marian_dir).eval()


@pytest.fixture(scope="session")
def marian_model(marian_dir):
    from keras_seqattn.applications import TransformerSeq2Seq

    return TransformerSeq2Seq.from_pretrained(
        marian_dir, max_source_length=32, max_target_length=32
    )
