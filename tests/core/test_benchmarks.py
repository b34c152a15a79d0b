"""Smoke test of the benchmark entry point (``python -m benchmarks --quick``) on a 10 s input.

Speed figures are not asserted (they belong to the benchmark, not the test
suite); what must hold on any machine is: the outputs are written, our MU
reaches the divergence scikit-learn's MU reaches (same algorithm), the batched
CNN gives the per-key loop's factors, and our CQT matches librosa's.
"""
import json

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")


@pytest.mark.slow  # ~20 s; the benchmarks' own check (python3 -m benchmarks --quick)
def test_quick_benchmark_writes_results(tmp_path, monkeypatch):
    from benchmarks.__main__ import main

    monkeypatch.setenv("UNMF_BENCH_INPUTS", str(tmp_path / "inputs"))
    out = tmp_path / "out"
    assert main(["--quick", "--only", "cqt,mu,unrolled", "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["machine"]["cores"] >= 1 and res["quick"] is True
    (cqt,) = res["cqt"]["rows"]
    assert cqt["min_frame_correlation"] > 0.99 and cqt["speedup"] > 0
    for row in res["mu"]["rows"]:
        assert row["divergence_rel_diff"] < 1e-4 and row["H_max_rel_diff"] < 1e-3
    (layer,) = res["unrolled"]["rows"]
    assert layer["outputs_agree"] and layer["layer_per_key_s"] > 0
    md = (out / "results.md").read_text()
    assert "scikit-learn" in md and "per-key loop" in md
    assert (out / "speedups.png").stat().st_size > 1000


def test_unknown_benchmark_is_a_usage_error(tmp_path):
    from benchmarks.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["--only", "cqt,nope", "--out", str(tmp_path)])
    assert exc.value.code == 2
