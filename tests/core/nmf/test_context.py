"""A_H with key context (``UnrolledConfig.ah_context``): other keys' rows as extra input channels."""
from __future__ import annotations

import json

import pytest
import torch

from unmf_core.errors import CheckpointError, OptionError
from unmf_core.frontend.cqt import CQTParams
from unmf_core.io.checkpoints import load_checkpoint, save_checkpoint
from unmf_core.nmf import chunking, im2col
from unmf_core.nmf.accel import TILE, AccelCNN, key_context
from unmf_core.nmf.chunking import initialize
from unmf_core.nmf.kernels import update_H, update_W
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU

CONTEXT = (-24, -19, -12, 12, 19, 24)


def _randomise(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return module


def _model(n_layers=3, w_every=2, hidden=4, seed=1, **kw):
    return _randomise(UnrolledMU(UnrolledConfig(n_layers=n_layers, w_every=w_every, hidden=hidden,
                                                ah_context=CONTEXT, **kw)), seed).eval()


def _problem(T, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(288, 88, generator=g)
    W = W / W.norm(dim=0)
    M = W @ (torch.rand(88, T, generator=g) ** 8) + 0.01 * torch.rand(288, T, generator=g)
    return M, *initialize(M, W, n_iter=2)


def _close(a, b, tol=1e-5):
    return float((a - b).abs().max()) <= tol * float(b.abs().max())


def test_context_channels_hold_the_rows_that_many_keys_away():
    x = torch.zeros(2, 88, 5)
    x[0, 40, 1] = 1.0
    x[1, 3, 2] = 2.0
    c = key_context(x, CONTEXT)
    assert c.shape == (2, 88, 7, 5)
    assert torch.equal(c[:, :, 0], x)  # channel 0: the row itself, exactly the input without context
    for j, off in enumerate(CONTEXT, start=1):
        hot = (c[0, :, j] != 0).nonzero().tolist()
        assert hot == [[40 - off, 1]], (off, hot)  # key k sees x[k + off]: the spike at 40 shows at 40 - off
    # key 3's spike is seen only by keys above it (negative offsets -24, -19, -12: channels 1, 2, 3);
    # the positive offsets would need keys below 0, which do not exist
    assert (c[1, :, 1:] != 0).nonzero().tolist() == [[15, 2, 2], [22, 1, 2], [27, 0, 2]]
    assert c[1, 15, 3, 2] == 2.0
    ones = key_context(torch.ones(88, 3), CONTEXT)  # zero where k + offset is outside 0 … 87
    for j, off in enumerate(CONTEXT, start=1):
        inside = [0 <= k + off < 88 for k in range(88)]
        assert ones[:, j, 0].tolist() == [float(v) for v in inside]
    assert torch.equal(key_context(x, ()), x.unsqueeze(-2))


def test_accel_h_feeds_each_key_with_its_context():
    model = _model(n_layers=1, w_every=0)
    layer = model.layers[0]
    assert layer.Ah.in_channels == 7 and layer.Aw.in_channels == 1
    _, _, H = _problem(30)
    x = H / H.max()
    with torch.no_grad():
        got = layer.accel_H(H)
        for k in (0, 11, 40, 87):
            rows = [x[k]] + [x[k + o] if 0 <= k + o < 88 else torch.zeros(30) for o in CONTEXT]
            ref = layer.Ah(torch.stack(rows)[None])[0]
            assert torch.allclose(got[k], ref, rtol=1e-5, atol=1e-6)
        layer.Ah.conv1.weight[:, 1:] = 0  # without the other keys' channels the factors change
        assert not torch.allclose(layer.accel_H(H), got, rtol=1e-3)


def test_untrained_context_model_is_plain_mu():
    _, W, H = _problem(40)
    M = _problem(40)[0]
    model = UnrolledMU(UnrolledConfig(n_layers=4, w_every=2, ah_context=CONTEXT))
    W_ref, H_ref = W, H
    for i in range(4):
        if i % 2 == 1:
            W_ref = update_W(M, W_ref, H_ref, 1.0)
        H_ref = update_H(M, W_ref, H_ref, 1.0)
    with torch.no_grad():
        W_out, H_out = model(M, W, H)
        assert torch.equal(model.layers[0].accel_H(H), torch.ones_like(H))
        model.set_precision(torch.bfloat16)
        assert torch.equal(model.layers[0].accel_H(H), torch.ones_like(H))
    assert torch.allclose(H_out, H_ref, rtol=1e-5, atol=1e-7) and torch.allclose(W_out, W_ref, rtol=1e-5)


def test_chunked_context_model_equals_whole():
    M, W, H = _problem(3000)  # whole: A_H runs in time tiles; chunks: in blocks
    model = _model()
    with torch.no_grad():
        whole = list(model.iter_layers(M, W, H, track_divergence=True))
        chunked = list(chunking.iter_layers(model, M, W, H, track_divergence=True, chunk=1100))
        plain = list(chunking.iterate_mu(M, W, H, 1))[0].H
    assert not _close(whole[0].H, plain, 1e-2)  # A_H is far from 1
    for a, b in zip(whole, chunked):
        assert _close(b.W, a.W) and _close(b.H, a.H)
        assert b.divergence == pytest.approx(a.divergence, rel=1e-5)


@pytest.mark.parametrize("shape", [(88, 7, 300), (5, 7, 5000), (2, 7, 9)])
def test_tiled_and_blocked_context_cnn_equal_one_call(shape):
    cnn = _randomise(AccelCNN(16, in_channels=7)).eval()
    x = torch.rand(*shape) ** 2
    with torch.enable_grad():
        one = cnn._head(cnn._trunk(x, None).squeeze(1)).detach()  # one 1-D convolution call, no tiles
        trained_layout = cnn(x).detach()
    with torch.no_grad():
        fast = cnn(x)
    assert fast.shape == (shape[0], shape[2]) and not torch.equal(fast, torch.ones_like(fast))
    assert torch.allclose(trained_layout, one, rtol=1e-5, atol=1e-6)
    assert torch.allclose(fast, one, rtol=1e-5, atol=1e-6)
    if shape[2] > TILE:  # the tiles' halo carries every channel
        assert torch.allclose(fast[:, TILE - 4:TILE + 4], one[:, TILE - 4:TILE + 4], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="7 input channels"):
        cnn(x[:, :3])


@pytest.mark.parametrize("length", [1, 3, 14, 54])
def test_context_matrix_products_equal_the_convolutions(length):
    torch.manual_seed(0)
    net = AccelCNN(hidden=16, in_channels=7)
    torch.nn.init.normal_(net.conv3.weight)
    x = torch.rand(88, 7, length) * 3
    assert 88 * length <= im2col.MAX_VALUES
    with torch.no_grad():
        fast = net._trunk_inference(x, None)
        ref = net.conv3(net.act(net.conv2(net.act(net.conv1(x)))))
    assert fast.shape == ref.shape == (88, 1, length)
    assert torch.allclose(fast, ref, rtol=1e-5, atol=1e-5) and float(ref.abs().max()) > 0.1


def test_bfloat16_context_model_is_close():
    model = _model(n_layers=2, w_every=0)
    M, W, H = _problem(2500)
    with torch.no_grad():
        ref = model(M, W, H)[1]
        model.set_precision(torch.bfloat16)
        low = model(M, W, H)[1]
    assert torch.isfinite(low).all() and not torch.equal(low, ref)
    assert torch.allclose(low, ref, rtol=0.05, atol=1e-3 * float(ref.max()))


def test_context_checkpoint_round_trip(tmp_path):
    model = _model(hidden=12)
    save_checkpoint(tmp_path / "c.pt", model, CQTParams())
    ck = load_checkpoint(tmp_path / "c.pt")
    assert ck.model.cfg == model.cfg and ck.model.cfg.ah_context == CONTEXT
    assert ck.model.layers[1].Ah.conv1.weight.shape == (24, 7, 5)
    M, W, H = _problem(200)
    with torch.no_grad():
        assert torch.equal(ck.model(M, W, H)[1], model(M, W, H)[1])
    # a config through JSON (lists) comes back equal; one written before the option has no context
    d = json.loads(json.dumps(model.cfg.to_dict()))
    assert d["ah_context"] == list(CONTEXT) and UnrolledConfig.from_dict(d) == model.cfg
    del d["ah_context"]
    assert UnrolledConfig.from_dict(d).ah_context == ()


@pytest.mark.parametrize("bad", [(0,), (12, 12), (88,), (1.5,), "12", (True,)])
def test_bad_context_is_refused(tmp_path, bad):
    with pytest.raises(OptionError, match="ah_context"):
        UnrolledConfig(ah_context=bad)
    path = tmp_path / "c.pt"
    save_checkpoint(path, UnrolledMU(UnrolledConfig(n_layers=2, hidden=4)), CQTParams())
    obj = torch.load(str(path), weights_only=True)
    obj["config"]["ah_context"] = list(bad) if isinstance(bad, tuple) else bad
    torch.save(obj, str(path))
    with pytest.raises(CheckpointError, match="ah_context"):
        load_checkpoint(path)


def test_bundled_model_has_no_context():
    from unmf_core.resources import default_model

    ck = load_checkpoint(default_model())
    assert ck.model.cfg.ah_context == () and ck.model.layers[0].Ah.in_channels == 1
