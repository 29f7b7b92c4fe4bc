"""The text embedder: WordLlama's l2_supercat model, 256-dimensional static token embeddings.

WordLlama (MIT licence, https://github.com/dleemiller/WordLlama) takes the token embedding table
of a large language model, trains a projection of it for sentence similarity, and embeds a
text as the average of its tokens' vectors. There is no neural network to run at query time,
so one embedding costs a tokenizer call and a table look-up: well under a millisecond on one
CPU. The weights (l2_supercat_256.safetensors, about 16 MB) and the tokenizer ship inside the
wordllama wheel, so nothing is downloaded.

`WordLlama.load()` is not used because it looks for the tokenizer in `wordllama/tokenizer/`
while the wheel ships `wordllama/tokenizers/`, and then tries the network; the parts are
loaded by hand instead. Load the embedder once per process: loading takes about a second.
"""

from pathlib import Path

import numpy as np
import wordllama
from safetensors import safe_open
from wordllama import WordLlama
from wordllama.inference import WordLlamaInference

ROOT = Path(wordllama.__file__).resolve().parent
TOKENIZER = ROOT / "tokenizers" / "l2_supercat_tokenizer_config.json"
WEIGHTS = ROOT / "weights" / "l2_supercat_256.safetensors"
DIMENSIONS = 256


class Embedder:
    """Embeds texts as L2-normalised float32 vectors of DIMENSIONS values: the dot product of two
    of them is their cosine similarity."""

    def __init__(self, model: WordLlamaInference) -> None:
        self._model = model

    def embed(self, texts: list[str]) -> np.ndarray:
        """An (n, 256) float32 array, one unit-length row per text (a text with no known token
        gives a row of zeros)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors = np.asarray(self._model.embed(texts, norm=False), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def load_embedder() -> Embedder:
    """The embedder, loaded from the files inside the wordllama package (no network)."""
    tokenizer = WordLlama.load_tokenizer(TOKENIZER)
    with safe_open(str(WEIGHTS), framework="np") as weights:
        table = weights.get_tensor("embedding.weight")
    return Embedder(WordLlamaInference(table, tokenizer))
