"""The export plan of a `CaptioningModel`: images or image bytes in, captions out."""

import tensorflow as tf

from keras_seqattn.export import _text_graph
from keras_seqattn.export._plan import ExportPlan, generate, has_attention, static_batch
from keras_seqattn.export._tflite import Float32Model, precision
from keras_seqattn.text import decode_image


def captioning_plan(model, beam_width=4, length_penalty=0.0):
    """Signatures of a captioner (RNNCaptioner, AttentionCaptioner, TransformerCaptioner).

    - `serving_default`: `images` float32 `(batch, H, W, C)` at the model's size,
      0-255 scale -> `text` `(batch,)`, `ids` `(batch, L)`, `lengths`, `scores`
      (greedy search).
    - `image_bytes`: `image_bytes` string `(batch,)`, encoded JPEG/PNG/GIF/BMP
      of any size -> the same; each image is decoded and brought to the model's
      size and channels by `keras_seqattn.text.prepare_image`'s policy.
    - `beam`: as `serving_default`, beam search of `beam_width` beams (when
      `beam_width > 1`).
    - `attention` (models with attention): as `serving_default`, plus
      `attention` `(batch, L, *attention_shape)`, the map of every step.

    TFLite (`model.tflite`): `images` `(1, H, W, C)` -> `ids`, `lengths`,
    `scores`; `vocabulary.json` beside it turns ids into tokens.
    """
    tokenizer = model.tokenizer
    settings = dict(
        start_id=tokenizer.start_id,
        stop_id=tokenizer.stop_id,
        max_length=model.max_caption_length,
        length_penalty=length_penalty,
    )
    image_size, channels = tuple(model.image_size), model.num_channels
    spec = tf.TensorSpec((None, *image_size, channels), tf.float32, name="images")
    vocabulary = _text_graph.graph_vocabulary(tokenizer)

    def captions(images, beam, with_attention=False):
        outputs = generate(model, images, settings, beam)
        outputs["text"] = _text_graph.detokenize(outputs["ids"], vocabulary, tokenizer.mode)
        if not with_attention:
            del outputs["attention"]
        return outputs

    def serve(images):
        return captions(images, 1)

    def serve_bytes(image_bytes):
        images = tf.map_fn(
            lambda data: _decode(data, image_size, channels),
            image_bytes,
            fn_output_signature=tf.TensorSpec((*image_size, channels), tf.float32),
        )
        return captions(images, 1)

    def serve_beam(images):
        return captions(images, beam_width)

    def serve_attention(images):
        return captions(images, 1, with_attention=True)

    tflite_model = Float32Model(model)

    def ids_only(images):
        outputs = generate(tflite_model.get(), images, settings, 1)
        return {key: outputs[key] for key in ("ids", "lengths", "scores")}

    plan = ExportPlan()
    plan.endpoints.append(("serving_default", serve, [spec]))
    plan.endpoints.append(
        ("image_bytes", serve_bytes, [tf.TensorSpec((None,), tf.string, name="image_bytes")])
    )
    if beam_width > 1:
        plan.endpoints.append(("beam", serve_beam, [spec]))
    if has_attention(model, spec, settings):
        plan.endpoints.append(("attention", serve_attention, [spec]))
    plan.tflite.append(("model.tflite", ids_only, [static_batch(spec)]))
    plan.files["vocabulary.json"] = list(tokenizer.vocabulary)
    plan.files["export.json"] = {
        "family": "captioning",
        "image_shape": [*image_size, channels],
        "pixel_scale": "0-255",
        "tokenizer_mode": tokenizer.mode,
        "max_length": model.max_caption_length,
        "start_id": tokenizer.start_id,
        "stop_id": tokenizer.stop_id,
        "beam_width": beam_width,
        "length_penalty": length_penalty,
        "grid_shape": list(model.grid_shape) if model.grid_shape is not None else None,
        **precision(model),
        "signatures": [name for name, _, _ in plan.endpoints],
    }
    return plan


def _decode(data, image_size, channels):
    """Encoded bytes -> float32 `(*image_size, channels)` by the captioners' policy."""
    return decode_image(data, image_size, channels)
