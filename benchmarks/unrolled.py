"""Benchmark 3: one unrolled layer, batched CNN acceleration vs the seed's per-key loop.

The reference calls the same A_W / A_H CNN once per column of W and once per
row of H (88 + 88 calls per layer), as the seed research code did; it lives
here only. The model is randomly initialised (timing does not depend on the
weights, and a random model makes the outputs non-trivial to compare).
"layer_engine" is the layer as the Engine runs it: whole up to the chunk
length, else in time chunks (:mod:`unmf_core.nmf.chunking`).
"""
from __future__ import annotations

import torch

from unmf_core.nmf.chunking import initialize
from unmf_core.nmf.kernels import update_H, update_W
from unmf_core.nmf import chunking
from unmf_core.transcription.engine import Engine, Options
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU, _normalise

from .common import interleaved, tiled_demo


def per_key_accel_H(layer, H):
    """A_H one row of H at a time (the seed's way)."""
    x = _normalise(H, layer.cfg.input_norm, (-2, -1))
    return torch.cat([layer.Ah(x[k:k + 1]) for k in range(H.shape[0])], dim=0)


def per_key_accel_W(layer, W):
    """A_W one column of W at a time (the seed's way)."""
    x = _normalise(W, layer.cfg.input_norm, (-2,))
    return torch.stack([layer.Aw(x[:, k].unsqueeze(0))[0] for k in range(W.shape[1])], dim=1)


def _layer(layer, M, W, H, accel_W, accel_H):
    W = update_W(M, W, H, 1.0, accel=accel_W(layer, W) if accel_W else layer.accel_W(W))
    return W, update_H(M, W, H, 1.0, accel=accel_H(layer, H) if accel_H else layer.accel_H(H))


def random_model(seed: int = 0, w_every: int = 5) -> UnrolledMU:
    """The default architecture with random weights (every CNN output differs from 1)."""
    model = UnrolledMU(UnrolledConfig(w_every=w_every)).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return model


def run(durations, reps: int) -> dict:
    """Time a full layer (W and H updated) and the accelerations alone, both ways."""
    engine = Engine(device="cpu")
    model = random_model(w_every=1)  # its first layer updates W and H, as the reference does
    layer = model.layers[0]
    chunk_s = Options().chunk_seconds
    rows = []
    for sec in durations:
        M = engine.spectrogram(engine.load(tiled_demo(sec)))
        W, H = initialize(M, engine.W, 5, 1.0, 0)
        with torch.no_grad():
            same_H = torch.allclose(per_key_accel_H(layer, H), layer.accel_H(H), rtol=1e-4, atol=1e-6)
            same_W = torch.allclose(per_key_accel_W(layer, W), layer.accel_W(W), rtol=1e-4, atol=1e-6)
            chunk = engine.chunk_frames(M, Options())
            t = interleaved({
                "layer_batched": lambda: _layer(layer, M, W, H, None, None),
                "layer_engine": lambda: list(chunking.iter_layers(model, M, W, H, chunk=chunk or M.shape[-1],
                                                                  n_layers=1)),
                "layer_per_key": lambda: _layer(layer, M, W, H, per_key_accel_W, per_key_accel_H),
                "accel_batched": lambda: (layer.accel_W(W), layer.accel_H(H)),
                "accel_per_key": lambda: (per_key_accel_W(layer, W), per_key_accel_H(layer, H)),
            }, reps)
        rows.append({"seconds": sec, "frames": M.shape[1], **{f"{k}_s": v for k, v in t.items()},
                     "layer_speedup": t["layer_per_key"] / t["layer_batched"],
                     "layer_engine_speedup": t["layer_per_key"] / t["layer_engine"], "engine_chunk_frames": chunk,
                     "accel_speedup": t["accel_per_key"] / t["accel_batched"],
                     "outputs_agree": bool(same_H and same_W)})
    return {"rows": rows, "model": "random weights, default architecture (hidden 16)",
            "engine_chunk_seconds": chunk_s}
