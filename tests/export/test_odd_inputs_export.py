"""Odd text through every path of one exported model: Keras, the SavedModel, the LiteRT client.

One table: each text is given to `translate()` as a user gives it (str, bytes, a
str that Python decoded from a command line), to the SavedModel's
`serving_default` as a client sends it (its bytes), in a TensorFlow-only process,
and to serving.md's LiteRT client, which tokenises for `model.tflite`. All
translate it alike (same ids, text and score; the client the same source ids),
or all refuse it: Keras and the SavedModel naming the same row and the same byte
where UTF-8 stops.
"""

import os
import re
import warnings

import numpy as np
import pytest

from keras_seqattn import cli
from tests.export.export_checks import litert_client, serve

pytestmark = pytest.mark.only_backend(
    "tensorflow", reason="exports run on the TensorFlow backend; other backends re-run it there"
)

# case: (text as translate() takes it, the byte where UTF-8 stops, or None if it is UTF-8)
CASES = {
    "empty": ("", None),
    "whitespace only": (" \t\n\u3000 ", None),
    "NUL inside": ("forty\x00two", None),
    "very long": ("forty two " * 5000, None),
    "case and spacing": ("  FORTY   Two!", None),
    "emoji, right-to-left, CJK": ("😀 forty שלום 四十二", None),
    "a U+FFFD of its own": ("forty \ufffd", None),
    "valid bytes": (b"seven", None),
    "bytes not UTF-8": (b"\xff\xfe 3 mai", 0),
    "a truncated sequence": (b"forty \xe2\x82", 6),
    "an encoded surrogate": (b"ab\xed\xa0\x80", 2),
    "an overlong NUL": (b"x\xc0\x80", 1),
    "a lone surrogate": ("forty \ud800", 6),
    "a command-line argument not UTF-8": (os.fsdecode(b"\xff\xfe 3 mai"), 0),
}


def _sent(text):
    """The bytes a client sends for `text`: a surrogate-escaped byte as the byte itself."""
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def both_paths(subword_export):
    # A random word-piece Seq2SeqRNN, exported once for this file and the subword test.
    model, folder = subword_export("word_piece")["model"], subword_export("word_piece")["folder"]
    valid = [name for name, (_, byte) in CASES.items() if byte is None]
    arrays = {"valid": np.array([_sent(CASES[name][0]) for name in valid])}
    calls = [("serving_default", {"text": "valid"})]
    for index, (text, byte) in enumerate(CASES.values()):
        if byte is not None:  # row 1 of a batch, after a good text
            arrays[f"case{index}"] = np.array([b"seven", _sent(text)])
            calls.append(("serving_default", {"text": f"case{index}"}))
    outputs, report = serve(folder / "export", arrays, calls)
    client = litert_client(folder / "export")
    return dict(
        model=model, valid=valid, outputs=outputs, report=report, folder=folder, client=client
    )


def test_valid_text_translates_alike_in_keras_and_the_saved_model(both_paths):
    model, valid, outputs = both_paths["model"], both_paths["valid"], both_paths["outputs"]
    with pytest.warns(UserWarning, match="1 source"):  # "very long", truncated
        keras = model.translate([CASES[name][0] for name in valid])  # str and bytes mixed
    for row, name in enumerate(valid):
        assert outputs["0/text"][row] == keras.text[row], name
        np.testing.assert_array_equal(outputs["0/ids"][row], keras.ids[row], err_msg=name)
        # The score depends on every source token: another tokenisation would move it.
        np.testing.assert_allclose(outputs["0/scores"][row], keras.scores[row], atol=1e-5)
    # Bytes are their UTF-8 text: the same translation as the str.
    assert model.translate("seven").text == model.translate(b"seven").text


@pytest.mark.parametrize("name", [name for name, (_, byte) in CASES.items() if byte is None])
def test_valid_text_gets_keras_source_ids_from_the_litert_client(both_paths, name):
    model, text = both_paths["model"], CASES[name][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "very long" is truncated
        expected = model.tokenize_sources([text])[0]
    got = both_paths["client"]["source_ids"](text)
    np.testing.assert_array_equal(got[0, : len(expected)], expected)
    assert not got[0, len(expected) :].any()


@pytest.mark.parametrize("name", [name for name, (_, byte) in CASES.items() if byte is not None])
def test_text_not_utf8_is_refused_by_both_naming_the_row_and_the_byte(both_paths, name):
    text, byte = CASES[name]
    with pytest.raises(ValueError, match=f"text 1 is not UTF-8 from byte {byte} ") as caught:
        both_paths["model"].translate(["seven", text])
    assert "\n" not in str(caught.value)
    call = [k for k, (_, b) in CASES.items() if b is not None].index(name) + 1
    served = both_paths["report"][f"error_{call}"]
    assert served.startswith("InvalidArgumentError") and "must be UTF-8 strings" in served
    assert re.search(rf"\[rows\] \[1\] \[from bytes\] \[{byte}\]", served), served
    with pytest.raises(ValueError):  # the LiteRT client: UnicodeDecodeError or EncodeError
        both_paths["client"]["source_ids"](text)


def test_the_cli_refuses_an_argument_that_is_not_utf8_in_one_line(both_paths):
    """`keras-seqattn predict M $'\\xff\\xfe 3 mai'`: Python hands it over surrogate-escaped."""
    argument = os.fsdecode(b"\xff\xfe 3 mai")
    with pytest.raises(SystemExit) as caught:
        cli.main(["predict", str(both_paths["folder"] / "model.keras"), "seven", argument])
    message = str(caught.value.code)
    assert message.startswith("keras-seqattn: error: Expected UTF-8 text; text 1 is not UTF-8")
    assert "from byte 0 (0xff: '\\udcff' at character 0" in message and "\n" not in message
