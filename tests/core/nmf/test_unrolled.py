import math

import pytest
import torch

from unmf_core.io.checkpoints import load_checkpoint, save_checkpoint
from unmf_core.frontend.cqt import CQTParams
from unmf_core.nmf.chunking import initialize
from unmf_core.nmf.kernels import update_H, update_W
from unmf_core.nmf.unrolled import AccelCNN, UnrolledConfig, UnrolledMU


def _problem(T=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(288, 88, generator=g)
    M = W[:, :6] @ torch.rand(6, T, generator=g) + 0.01
    return M, *initialize(M, W, n_iter=2)


def _randomise(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return model


def test_untrained_model_is_plain_mu():
    M, W, H = _problem()
    model = UnrolledMU(UnrolledConfig(n_layers=6, w_every=3))
    W_ref, H_ref = W, H
    for i in range(6):
        if i % 3 == 2:
            W_ref = update_W(M, W_ref, H_ref, 1.0)
        H_ref = update_H(M, W_ref, H_ref, 1.0)
    with torch.no_grad():
        W_out, H_out = model(M, W, H)
    assert torch.allclose(H_out, H_ref, rtol=1e-5, atol=1e-7) and torch.allclose(W_out, W_ref, rtol=1e-5)


def test_layer_with_factors_forced_to_one_is_one_mu_iteration():
    M, W, H = _problem()
    model = _randomise(UnrolledMU(UnrolledConfig(n_layers=2, w_every=1)))
    layer = model.layers[0]
    layer.accel_H = lambda H_, peak=None: torch.ones_like(H_)
    layer.accel_W = lambda W_: torch.ones_like(W_)
    with torch.no_grad():
        W1, H1 = layer(M, W, H, with_w=True)
    W_ref = update_W(M, W, H, 1.0)
    assert torch.allclose(W1, W_ref) and torch.allclose(H1, update_H(M, W_ref, H, 1.0))


def test_centered_head_gives_factors_both_sides_of_one():
    cnn = _randomise(AccelCNN(16))
    with torch.no_grad():
        f = cnn(torch.rand(88, 100) * 3)
    assert f.min() < 1 < f.max() and (f > 0).all()
    assert torch.equal(AccelCNN(16)(torch.rand(4, 30)), torch.ones(4, 30))


def test_seed_head_never_goes_below_ln2():
    cnn = _randomise(AccelCNN(16, head="seed"), seed=3)
    with torch.no_grad():
        assert cnn(torch.randn(88, 200)).min() >= math.log(2) - 1e-6


def _per_column_reference(model, M, W, H):
    """The seed's way: call each CNN once per column of W / row of H."""
    for i, layer in enumerate(model.layers):
        if model.updates_w(i):
            x = W / W.amax(dim=0, keepdim=True) if model.cfg.input_norm == "max" else W
            A = torch.stack([layer.Aw(x[:, k][None])[0] for k in range(W.shape[1])], dim=1)
            W = update_W(M, W, H, 1.0, accel=A)
        x = H / H.max() if model.cfg.input_norm == "max" else H
        A = torch.stack([layer.Ah(x[k][None])[0] for k in range(H.shape[0])], dim=0)
        H = update_H(M, W, H, 1.0, accel=A, clip=model.cfg.clip_h)
    return W, H


def test_seed_checkpoint_loads_and_batched_equals_per_column(shared_data):
    ck = load_checkpoint(shared_data / "models" / "non_shared_layers_warmup.pt")
    assert ck.kind == "seed" and ck.model.cfg.n_layers == 10 and ck.model.cfg.hidden == 16
    M, W, H = _problem(T=30)
    with torch.no_grad():
        Wb, Hb = ck.model(M, W, H)
        Wr, Hr = _per_column_reference(ck.model, M, W, H)
    assert torch.allclose(Hb, Hr, rtol=1e-5, atol=1e-5 * float(Hr.abs().max()))
    assert torch.allclose(Wb, Wr, rtol=1e-5, atol=1e-5 * float(Wr.abs().max()))


@pytest.mark.parametrize("name, layers, hidden", [("1e-2lr_15_iter_clip_10%.pt", 15, 16), ("RALMU.pt", 10, 32),
                                                  ("10%_subset_0.pt", 10, 16)])
def test_seed_checkpoint_variants_load(shared_data, name, layers, hidden):
    ck = load_checkpoint(shared_data / "models" / name)
    assert (ck.model.cfg.n_layers, ck.model.cfg.hidden) == (layers, hidden)


def test_batched_forward_and_all_layers_reported():
    model = _randomise(UnrolledMU(UnrolledConfig(n_layers=3)))
    M, W, H = _problem()
    M2, _, H2 = _problem(seed=1)
    with torch.no_grad():
        _, Hb, Hs, _ = model(torch.stack([M, M2]), W, torch.stack([H, H2]), return_all=True)
        _, H_single = model(M, W, H)
    assert len(Hs) == 3 and Hb.shape == (2, 88, 40)
    assert torch.allclose(Hb[0], H_single, rtol=1e-5, atol=1e-6)
    steps = list(model.iter_layers(M, W, H, track_divergence=True))
    assert [s.index for s in steps] == [1, 2, 3] and all(s.divergence >= 0 for s in steps)


def test_shared_model_state_dict_names_match_seed_layout(tmp_path):
    model = UnrolledMU(UnrolledConfig(n_layers=4, shared=True))
    keys = set(model.state_dict())
    assert {"layers.0.beta", "layers.3.Ah.conv1.weight", "layers.2.Aw.conv3.bias"} <= keys
    assert model.layers[0].Ah is model.layers[3].Ah
    save_checkpoint(tmp_path / "m.pt", _randomise(model), CQTParams())
    ck = load_checkpoint(tmp_path / "m.pt")
    assert ck.kind == "unmf" and ck.model.cfg.shared
    for k, v in model.state_dict().items():
        assert torch.equal(v, ck.model.state_dict()[k])


@pytest.mark.parametrize("shape", [(88, 288), (88, 3000), (5, 9000), (2, 7)])
def test_blocked_cnn_equals_one_call_on_the_whole_input(shape):
    cnn = _randomise(AccelCNN(16)).eval()
    x = torch.rand(*shape)
    with torch.no_grad():
        whole = cnn._head(cnn._trunk(x.unsqueeze(1), None).squeeze(1))
        assert torch.allclose(cnn(x), whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("precision", [torch.float32, torch.bfloat16])
def test_padded_rows_give_the_unpadded_result_and_share_shapes(precision, monkeypatch):
    """Rows padded to whole quanta (files of any length share the oneDNN kernels): same values as unpadded."""
    from unmf_core.nmf import accel

    cnn = _randomise(AccelCNN(16)).eval()
    cnn.precision = precision
    widths = []
    conv2d = torch.nn.functional.conv2d
    monkeypatch.setattr(torch.nn.functional, "conv2d", lambda x, *a, **k: widths.append(x.shape[-1]) or
                        conv2d(x, *a, **k))
    for length in (850, 870):
        x = torch.rand(88, length)
        with torch.no_grad():
            per = accel.BLOCK // length  # the unpadded groups of rows, as before the padding
            plain = cnn._head(torch.cat([cnn._trunk_inference(x[i:i + per].unsqueeze(1), None)
                                         for i in range(0, 88, per)]).squeeze(1))
            widths.clear()
            padded = cnn(x)
        assert padded.shape == (88, length) and not torch.equal(padded, torch.ones_like(padded))
        assert torch.equal(padded, plain)
        assert set(widths) == {896}  # both lengths run as 14 quanta of 64 frames


def test_aligned_chunks_fill_whole_quanta():
    from unmf_core.nmf.accel import QUANTUM, aligned_chunk

    for frames in (1, 63, 861, 1723):
        chunk = aligned_chunk(frames, 4)
        assert (chunk + 8) % QUANTUM == 0 and chunk > 0
        assert chunk <= frames or frames + 8 < QUANTUM


def test_learned_step_starts_as_plain_mu_and_over_relaxes():
    M, W, H = _problem()
    model = UnrolledMU(UnrolledConfig(n_layers=3, w_every=0, learn_step=True))
    H_ref = H
    for _ in range(3):
        H_ref = update_H(M, W, H_ref, 1.0)
    with torch.no_grad():
        assert torch.allclose(model(M, W, H)[1], H_ref, rtol=1e-5, atol=1e-7)
        layer = model.layers[0]
        layer.log_step.fill_(math.log(2.0))
        H1 = layer(M, W, H, with_w=False)[1]
    ratio = update_H(M, W, H, 1.0) / H
    assert torch.allclose(H1, H * ratio ** 2, rtol=1e-4)
    model.layers[0].log_step.data.zero_()
    loss = model(M, W, H)[1].square().sum()
    loss.backward()
    assert all(torch.isfinite(layer.log_step.grad) and layer.log_step.grad != 0 for layer in model.layers)


@pytest.mark.parametrize("shape", [(88, 300), (5, 5000)])
def test_inference_layout_equals_the_training_layout(shape):
    """Without gradients the CNN runs channels-last 2-D convolutions (tiled beyond TILE frames): same factors."""
    cnn = _randomise(AccelCNN(16)).eval()
    x = torch.rand(*shape) ** 2
    with torch.enable_grad():
        ref = cnn(x).detach()
    with torch.no_grad():
        fast = cnn(x)
        assert torch.allclose(fast, ref, rtol=1e-5, atol=1e-6) and not torch.equal(fast, torch.ones_like(fast))
        cnn.conv2.weight.mul_(2.0)  # changed weights: the cached inference kernels must follow
        changed = cnn(x)
    with torch.enable_grad():
        assert torch.allclose(changed, cnn(x).detach(), rtol=1e-5, atol=1e-6)


def test_bfloat16_precision_is_close_and_keeps_the_untrained_model_exact():
    model = _randomise(UnrolledMU(UnrolledConfig(n_layers=2, w_every=0))).eval()
    M, W, H = _problem(T=200)
    with torch.no_grad():
        ref = model(M, W, H)[1]
        model.set_precision(torch.bfloat16)
        low = model(M, W, H)[1]
        assert torch.allclose(low, ref, rtol=0.05, atol=1e-3 * float(ref.max()))
        plain = UnrolledMU(UnrolledConfig(n_layers=2, w_every=0))
        plain.set_precision(torch.bfloat16)
        assert torch.equal(plain.layers[0].accel_H(H), torch.ones_like(H))
    with pytest.raises(ValueError):
        model.set_precision(torch.float16)


def test_a_float64_model_runs_in_float64_without_gradients():
    cnn = _randomise(AccelCNN(16)).double().eval()
    x = torch.rand(6, 200, dtype=torch.float64)
    with torch.enable_grad():
        ref = cnn(x).detach()
    with torch.no_grad():
        out = cnn(x)
    assert out.dtype == torch.float64 and torch.allclose(out, ref, rtol=1e-12, atol=1e-12)


def test_engines_run_bfloat16_where_the_cpu_has_it_unless_told_otherwise(monkeypatch):
    from unmf_core.errors import OptionError
    from unmf_core.nmf.precision import bf16_supported, inference_precision
    from unmf_core.transcription.engine import Engine

    native = torch.bfloat16 if bf16_supported() else torch.float32
    monkeypatch.delenv("UNMF_PRECISION", raising=False)
    assert inference_precision("cpu") == native and inference_precision("cuda") == torch.float32
    assert inference_precision("cpu", "float32") == torch.float32
    assert Engine(device="cpu").model.layers[0].Ah.precision == native
    monkeypatch.setenv("UNMF_PRECISION", "float32")
    assert inference_precision("cpu") == torch.float32
    assert inference_precision("cpu", "bfloat16") == torch.bfloat16  # an explicit choice wins over the variable
    assert Engine(device="cpu").model.layers[0].Ah.precision == torch.float32
    monkeypatch.setenv("UNMF_PRECISION", "half")
    with pytest.raises(OptionError, match="UNMF_PRECISION"):
        Engine(device="cpu")
