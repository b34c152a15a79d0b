"""Chunked (bounded-memory) factorisation gives the unchunked result on a 60 s input.

Tolerance: every factor agrees within 1e-5 of its largest entry and every
divergence within 1e-5 relative (float32 summation order is the only
difference; observed ~1e-6).
"""
import numpy as np
import pytest
import torch

from unmf_core.nmf import accel, chunking
from unmf_core.frontend.audio import Audio, load_audio
from unmf_core.nmf.chunking import initialize, iterate_mu
from unmf_core.transcription.engine import DEMO_AUDIO, Engine, Options
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU

TOL = 1e-5
FRAMES_60S = 5168  # 60 s at 22050 Hz / hop 256
CHUNK = 1500  # not a divisor of the length: the last chunk is short


def _close(a, b, tol=TOL):
    return float((a - b).abs().max()) <= tol * float(b.abs().max())


def _problem(T=FRAMES_60S, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(288, 88, generator=g)
    W = W / W.norm(dim=0)
    M = W @ (torch.rand(88, T, generator=g) ** 8) + 0.01 * torch.rand(288, T, generator=g)
    return M, W


def _random_model(n_layers=4, w_every=2, seed=1):
    model = UnrolledMU(UnrolledConfig(n_layers=n_layers, w_every=w_every, hidden=4)).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return model


def test_spans_partition_the_frames_with_clipped_halo():
    parts = chunking.spans(10, 4, halo=2)
    assert parts == [(0, 0, 4, 6), (2, 4, 8, 10), (6, 8, 10, 10)]
    assert [b - a for _, a, b, _ in chunking.spans(FRAMES_60S, CHUNK)] == [1500, 1500, 1500, 668]


@pytest.mark.parametrize("seed", [None, 3], ids=["flat", "random"])
def test_chunked_initialisation_equals_whole(seed):
    M, W = _problem()
    W1, H1 = initialize(M, W, n_iter=5, seed=seed)
    W2, H2 = chunking.initialize(M, W, n_iter=5, seed=seed, chunk=CHUNK)
    assert _close(W2, W1) and _close(H2, H1)


def test_chunked_mu_with_w_updates_equals_whole():
    M, W = _problem()
    W, H = initialize(M, W, n_iter=2)
    whole = list(iterate_mu(M, W, H, 6, beta=1.0, update_w=True))
    chunked = list(chunking.iterate_mu(M, W, H, 6, beta=1.0, update_w=True, chunk=CHUNK))
    assert len(chunked) == 6
    for a, b in zip(whole, chunked):
        assert _close(b.W, a.W) and _close(b.H, a.H)
        assert b.divergence == pytest.approx(a.divergence, rel=TOL)
    assert not torch.equal(whole[-1].W, W)  # W really was updated


def test_chunked_unrolled_with_w_updates_equals_whole():
    M, W = _problem()
    W, H = initialize(M, W, n_iter=2)
    model = _random_model()
    with torch.no_grad():
        whole = list(model.iter_layers(M, W, H, track_divergence=True))
        plain = list(iterate_mu(M, W, H, 1))[0].H
        chunked = list(chunking.iter_layers(model, M, W, H, track_divergence=True, chunk=CHUNK))
    assert not _close(whole[0].H, plain, 1e-2)  # A_H is far from 1: the halo matters
    for a, b in zip(whole, chunked):
        assert _close(b.W, a.W) and _close(b.H, a.H)
        assert b.divergence == pytest.approx(a.divergence, rel=TOL)


def test_without_halo_chunk_borders_differ(monkeypatch):
    M, W = _problem(T=600)
    W, H = initialize(M, W, n_iter=2)
    model = _random_model(n_layers=1, w_every=0)
    with torch.no_grad():
        whole = model(M, W, H)[1]
    for layer in model.layers:
        monkeypatch.setattr(layer, "receptive_halo", lambda: 0)
    with torch.no_grad():
        cut = list(chunking.iter_layers(model, M, W, H, chunk=250))[-1].H
    assert not _close(cut, whole)
    assert _close(cut[:, 10:240], whole[:, 10:240])


def _tiled_demo(seconds=60.0):
    demo = load_audio(DEMO_AUDIO)
    n = int(seconds * demo.sr)
    return Audio(np.tile(demo.samples, -(-n // len(demo.samples)))[:n], demo.sr)


@pytest.mark.parametrize("method", ["unrolled", "mu"])
def test_engine_chunks_a_long_recording_with_the_same_result(method, monkeypatch):
    monkeypatch.setenv("UNMF_PRECISION", "float32")  # exactness of the chunking (bfloat16 rounds per call shape)
    engine = Engine(model=_random_model(n_layers=3, w_every=2), device="cpu")
    audio = _tiled_demo()
    common = dict(method=method, iterations=4, update_w=True, track_divergence=True)
    whole = engine.transcribe(audio, Options(chunk_seconds=None, **common))
    chunked = engine.transcribe(audio, Options(chunk_seconds=20.0, **common))
    M = torch.from_numpy(whole.H)  # only its length matters
    chunk = engine.chunk_frames(M, Options(chunk_seconds=20.0))
    halo = engine.model.layers[0].receptive_halo()
    # at most 20 s, and a chunk with its halo fills whole quanta of A_H's padded rows (shapes shared by files)
    assert round(20.0 * engine.cqt.frame_rate) - accel.QUANTUM < chunk <= round(20.0 * engine.cqt.frame_rate)
    assert (chunk + 2 * halo) % accel.QUANTUM == 0 and -(-M.shape[-1] // chunk) == 4  # 5169 frames, 1720 a chunk
    assert engine.chunk_frames(M, Options(chunk_seconds=None)) is None
    assert _close(torch.from_numpy(chunked.H), torch.from_numpy(whole.H))
    assert _close(torch.from_numpy(chunked.W), torch.from_numpy(whole.W))
    assert np.allclose(chunked.divergences, whole.divergences, rtol=TOL)
    assert [(n.pitch, round(n.onset, 3)) for n in chunked.notes] == [(n.pitch, round(n.onset, 3))
                                                                       for n in whole.notes]
