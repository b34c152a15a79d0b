"""CQT filters: numpy half-band, built once and read from the package or the user cache, checked before use."""
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch

from unmf_core.frontend import filterbank
from unmf_core.frontend.cqt import CQTParams, compute_cqt
from unmf_core.frontend.transform import CQT

ROOT = Path(__file__).resolve().parents[3]
SMALL = CQTParams(sr=8000, hop=64, fmin=55.0, n_bins=144)  # a parameter set nobody ships


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """An empty package folder and an empty user cache."""
    bundled, cache = tmp_path / "bundled", tmp_path / "cache"
    bundled.mkdir()
    monkeypatch.setattr(filterbank, "bundled_dir", lambda: bundled)
    monkeypatch.setenv("UNMF_FILTER_CACHE", str(cache))
    return bundled, cache


def _same(a: filterbank.FilterBank, b: filterbank.FilterBank) -> bool:
    return (len(a.bases) == len(b.bases) and all(np.array_equal(x, y) for x, y in zip(a.bases, b.bases))
            and (a.n_ffts, a.hops, a.decimate) == (b.n_ffts, b.hops, b.decimate)
            and np.array_equal(a.inv_sqrt_len, b.inv_sqrt_len) and np.array_equal(a.halfband, b.halfband))


def test_halfband_taps_are_scipys():
    ref = scipy.signal.firwin(129, 0.5, window=("kaiser", 8.0))
    ours = filterbank.halfband()
    assert ours.dtype == np.float32
    assert np.array_equal(ours, ref.astype(np.float32))
    assert np.array_equal(filterbank.halfband(31, 5.0), scipy.signal.firwin(31, 0.5, window=("kaiser", 5.0))
                          .astype(np.float32))


def test_shipped_filters_equal_a_fresh_build():
    params = CQTParams()
    path = ROOT / "resources" / "cqt" / filterbank.file_name(params)
    assert path.is_file(), "run scripts/make_resources.py --only filters"
    shipped = filterbank.load(path, params)
    fresh = filterbank.build(params)
    assert shipped is not None and _same(shipped, dataclasses.replace(fresh, bases=shipped.bases))
    # The FFT of a build may round differently in the last bit on another CPU or numpy (numpy 2.4.6 on this kind
    # of machine: one value of 74 000, by 1e-13 of 5); anything the parameters or the code change is far larger.
    for ours, theirs in zip(shipped.bases, fresh.bases):
        assert ours.shape == theirs.shape and np.allclose(ours, theirs, rtol=0, atol=1e-6 * np.abs(theirs).max())


def test_built_once_then_read_from_the_cache(dirs, monkeypatch):
    _, cache = dirs
    first = filterbank.filter_bank(SMALL)
    assert (cache / filterbank.file_name(SMALL)).is_file()
    assert [p.name for p in cache.iterdir()] == [filterbank.file_name(SMALL)]  # no temporary left behind

    def no_build(params):
        raise AssertionError("built again")

    monkeypatch.setattr(filterbank, "build", no_build)
    assert _same(filterbank.filter_bank(SMALL), first)


def test_the_package_file_wins_over_the_cache(dirs, monkeypatch):
    bundled, cache = dirs
    bank = filterbank.build(SMALL)
    filterbank.save(bundled / filterbank.file_name(SMALL), bank, SMALL)
    monkeypatch.setattr(filterbank, "build", lambda params: pytest.fail("built although shipped"))
    assert _same(filterbank.filter_bank(SMALL), bank)
    assert not cache.exists()


def test_every_parameter_has_its_own_file():
    names = {filterbank.file_name(p) for p in (CQTParams(), CQTParams.seed(), CQTParams(fmin=27.0),
                                               CQTParams(filter_scale=0.9), CQTParams(n_bins=252),
                                               CQTParams(bins_per_octave=24, n_bins=192))}
    assert len(names) == 6


def _corrupt_npz(path: Path, **changes) -> None:
    with np.load(path, allow_pickle=False) as z:
        arrays = dict(z.items())
    arrays.update(changes)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "dtype", "shape", "nan", "other-params", "pickle"])
def test_a_bad_cache_file_is_rebuilt_and_replaced(dirs, damage):
    _, cache = dirs
    good = filterbank.filter_bank(SMALL)
    path = cache / filterbank.file_name(SMALL)
    if damage == "garbage":
        path.write_bytes(b"not a numpy file at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "dtype":
        _corrupt_npz(path, basis0=good.bases[0].astype(np.complex128))
    elif damage == "shape":
        _corrupt_npz(path, basis1=good.bases[1][:, :-1])
    elif damage == "nan":
        bad = good.bases[2].copy()
        bad[0, 0] = np.nan
        _corrupt_npz(path, basis2=bad)
    elif damage == "other-params":
        _corrupt_npz(path, params=np.asarray(filterbank._params_text(CQTParams())))
    elif damage == "pickle":
        _corrupt_npz(path, inv_sqrt_len=np.array([object()], dtype=object))
    assert filterbank.load(path, SMALL) is None
    assert _same(filterbank.filter_bank(SMALL), good)
    assert filterbank.load(path, SMALL) is not None  # replaced by a good file


def test_an_unwritable_cache_still_transcribes(dirs, monkeypatch):
    blocker = dirs[1].parent / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("UNMF_FILTER_CACHE", str(blocker / "filters"))  # cannot be created
    assert len(filterbank.filter_bank(SMALL).bases) == 4


def test_the_transform_from_cached_filters_is_identical(dirs):
    rng = np.random.default_rng(1)
    y = torch.from_numpy(rng.standard_normal(3 * SMALL.sr).astype(np.float32))
    fresh = CQT(SMALL, filterbank.build(SMALL))(y)
    filterbank.filter_bank(SMALL)  # writes the cache
    cached = CQT(SMALL)(y)
    assert torch.equal(fresh, cached)


def test_too_high_a_top_filter_is_refused(dirs):
    with pytest.raises(ValueError, match="Nyquist"):
        compute_cqt(np.zeros(8000, np.float32), CQTParams(sr=8000, hop=64))


_PROBE = """
import sys
{code}
heavy = sorted(m for m in ("torch", "librosa", "scipy", "numba") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


def _heavy(code: str, env: dict | None = None) -> tuple[set[str], subprocess.CompletedProcess]:
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(code=code)], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=300)
    line = [x for x in proc.stdout.splitlines() if x.startswith("HEAVY=")]
    assert line, proc.stdout + proc.stderr
    return {m for m in line[-1][6:].split(",") if m}, proc


def test_importing_the_parameters_and_notes_needs_no_torch():
    heavy, _ = _heavy("import unmf_core.frontend.cqt, unmf_core.transcription.notes\n"
                      "from unmf_core.frontend.cqt import key_names; assert key_names()[48] == 'A4'")
    assert heavy == set()


def test_a_run_with_shipped_filters_needs_no_librosa_scipy_numba(tmp_path):
    code = ("import numpy as np\nfrom unmf_core.frontend.cqt import compute_cqt\n"
            "C = compute_cqt(np.random.default_rng(0).standard_normal(22050).astype(np.float32))\n"
            "assert C.shape == (288, 87)")
    heavy, proc = _heavy(code, {"UNMF_RESOURCES": str(ROOT / "resources"), "UNMF_FILTER_CACHE": str(tmp_path)})
    assert heavy == {"torch"}, proc.stderr
    assert not any(tmp_path.iterdir())  # nothing built, nothing cached
