"""CQTStream: the CQT of a growing signal equals the whole-signal transform on the samples received so far."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from unmf_core.frontend.cqt import cqt_module
from unmf_core.frontend.transform import CQTStream


@pytest.fixture(scope="module")
def cqt():
    return cqt_module()


def test_frames_equal_the_whole_signal_transform_at_every_point(cqt):
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(22050 * 5)).astype(np.float32)
    x[30000:60000] += np.sin(2 * np.pi * 55.0 * np.arange(30000) / 22050).astype(np.float32)  # a low tone
    stream = CQTStream(cqt)
    sizes, pos, k, checked = [1024, 333, 4096, 1, 2000, 7777], 0, 0, 0
    with torch.no_grad():
        while pos < len(x):
            b = sizes[k % len(sizes)]
            k += 1
            stream.push(torch.from_numpy(x[pos:pos + b]))
            pos = min(len(x), pos + b)
            n_frames = 1 + pos // cqt.params.hop
            if k % 3 == 0 and n_frames > 30:
                f0 = n_frames - 30
                got = stream.frames(f0, n_frames)
                ref = cqt(torch.from_numpy(x[:pos]))[:, f0:n_frames]
                assert got.shape == ref.shape
                assert float((got - ref).abs().max()) <= 1e-5 * float(ref.abs().max())
                stream.forget(f0)  # frames before f0 are never asked again
                checked += 1
    assert checked > 10


def test_memory_is_bounded_and_bad_ranges_are_refused(cqt):
    stream = CQTStream(cqt)
    block = np.zeros(2048, np.float32)
    held = []
    with torch.no_grad():
        for i in range(400):  # ~37 s
            stream.push(torch.from_numpy(block))
            n_frames = 1 + stream.n // cqt.params.hop
            stream.frames(max(0, n_frames - 14), n_frames)
            stream.forget(max(0, n_frames - 14))
            held.append(stream.held)
    assert max(held[200:]) <= max(held[100:200]) + 2048  # no growth with the stream's length
    assert max(held) < 2 * cqt.params.sr
    with pytest.raises(ValueError):
        stream.frames(0, 1 + stream.n // cqt.params.hop + 1)
    with pytest.raises(ValueError):
        stream.frames(5, 4)
