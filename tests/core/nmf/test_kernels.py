import numpy as np
import pytest
import torch

from unmf_core.nmf.chunking import initialize, iterate_mu, mu
from unmf_core.nmf.kernels import beta_divergence, data_terms, fit_divergence, start_H, update_H, update_W


def _data(seed=0, F=40, K=6, T=50):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(F, T, generator=g) + 0.01, torch.rand(F, K, generator=g) + 0.01,
            torch.rand(K, T, generator=g) + 0.01)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("update_w", [False, True])
def test_divergence_never_increases(beta, update_w):
    M, W, H = _data()
    M, W, H = M.double(), W.double(), H.double()
    d = [float(beta_divergence(M, W @ H, beta))]
    for step in iterate_mu(M, W, H, 60, beta, update_w=update_w):
        d.append(step.divergence)
    assert all(b <= a * (1 + 1e-9) + 1e-12 for a, b in zip(d, d[1:]))
    assert d[-1] < d[0]


def test_recovers_known_factorisation():
    g = torch.Generator().manual_seed(1)
    W = torch.rand(60, 5, generator=g).double()
    H_true = torch.rand(5, 80, generator=g).double() * (torch.rand(5, 80, generator=g) > 0.5)
    M = W @ H_true
    H0 = torch.full_like(H_true, 0.5)
    res = mu(M, W, H0, n_iter=2000, beta=1.0)
    assert torch.allclose(res.H, H_true, atol=0.02)
    assert float(beta_divergence(M, W @ res.H, 1.0)) < 1e-4 * float(M.sum())


def test_divergences_match_known_formulas():
    M = torch.tensor([[1.0, 2.0]])
    V = torch.tensor([[2.0, 2.0]])
    assert float(beta_divergence(M, V, 2)) == pytest.approx(0.5)
    assert float(beta_divergence(M, V, 1)) == pytest.approx(1 * np.log(0.5) - 1 + 2)
    assert float(beta_divergence(M, V, 0)) == pytest.approx(0.5 - np.log(0.5) - 1)
    assert float(beta_divergence(M, M, 0.5)) == pytest.approx(0.0, abs=1e-6)


def test_callback_sees_every_iteration_and_can_cancel():
    M, W, H = _data()
    seen = []
    res = mu(M, W, H, n_iter=10, callback=lambda i, W_, H_, d: seen.append((i, d)) or (i < 4))
    assert [i for i, _ in seen] == [1, 2, 3, 4] and res.cancelled and res.iterations == 4
    assert all(np.isfinite(d) for _, d in seen)


def test_accel_factor_multiplies_the_update():
    M, W, H = _data()
    A = torch.full_like(H, 2.0)
    assert torch.allclose(update_H(M, W, H, 1.0, accel=A), 2 * update_H(M, W, H, 1.0))
    assert torch.allclose(update_W(M, W, H, 1.0, accel=torch.full_like(W, 0.5)), 0.5 * update_W(M, W, H, 1.0))
    assert update_H(M, W, H, 1.0, clip=0.1).max() <= 0.1


def test_initialize_scales_to_data_and_is_seeded():
    M, W, _ = _data()
    W0, H0 = initialize(M, W, n_iter=3, seed=7)
    assert float((W0 @ H0).sum()) == pytest.approx(float(M.sum()), rel=1e-4)
    W1, H1 = initialize(M, W, n_iter=3, seed=7)
    assert torch.equal(H0, H1)
    assert not torch.equal(H0, initialize(M, W, n_iter=3, seed=8)[1])


def test_flat_start_is_the_default_and_depends_on_the_data_only():
    M, W, _ = _data()
    assert torch.equal(start_H(M, 6), torch.ones(6, M.shape[1]))
    W0, H0 = initialize(M, W, n_iter=0)
    assert torch.allclose(H0, H0[:1, :1].expand_as(H0))  # no MU step: still flat, scaled to M
    assert float((W0 @ H0).sum()) == pytest.approx(float(M.sum()), rel=1e-4)
    _, H1 = initialize(M, W, n_iter=3)
    _, H2 = initialize(M, W, n_iter=3)
    assert torch.equal(H1, H2) and not torch.equal(H1, initialize(M, W, n_iter=3, seed=0)[1])
    # with KL one MU step gives each frame's H from that frame of M alone: a frame's start does not
    # depend on the recording's length or level
    _, Hc = initialize(M[:, :20] * 3.0, W, n_iter=1)
    assert torch.allclose(Hc, 3.0 * initialize(M, W, n_iter=1)[1][:, :20], rtol=1e-4)


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("batch", [(), (3,)])
def test_fit_divergence_equals_the_textbook_formula(beta, batch):
    g = torch.Generator().manual_seed(1)
    W = torch.rand(*batch, 40, 6, generator=g)
    H = torch.rand(*batch, 6, 50, generator=g)
    M = torch.rand(*batch, 40, 50, generator=g) * (torch.rand(*batch, 40, 50, generator=g) > 0.3)  # zeros too
    ref = float(beta_divergence(M, W @ H, beta))
    assert float(fit_divergence(M, W, H, beta)) == pytest.approx(ref, rel=1e-5)
    if beta == 1:
        assert float(fit_divergence(M, W, H, beta, data_terms(M))) == pytest.approx(ref, rel=1e-5)
        assert float(fit_divergence(M, W, 2 * H, beta)) == pytest.approx(float(beta_divergence(M, W @ (2 * H))),
                                                                       rel=1e-5)


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
def test_update_without_gradients_reuses_memory_and_gives_the_same_bits(beta):
    g = torch.Generator().manual_seed(0)
    W, H, M = torch.rand(50, 8, generator=g), torch.rand(8, 60, generator=g), torch.rand(50, 60, generator=g)
    A = torch.rand(8, 60, generator=g) + 0.5
    H0 = H.clone()
    for kw in ({}, {"accel": A}, {"accel": A, "step": torch.tensor(1.3)}, {"clip": 0.5}, {"lambda_H": 0.1}):
        ref = update_H(M, W, H, beta, **kw)
        with torch.no_grad():
            assert torch.equal(update_H(M, W, H, beta, **kw), ref)
    assert torch.equal(H, H0)  # the input is never written
