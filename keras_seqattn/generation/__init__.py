"""One decoding engine for every generative model: greedy and beam search."""

from keras_seqattn.generation.beam_search import beam_search
from keras_seqattn.generation.generation_output import GenerationOutput
from keras_seqattn.generation.greedy_search import greedy_search
from keras_seqattn.generation.search import generate

__all__ = ["GenerationOutput", "beam_search", "generate", "greedy_search"]
