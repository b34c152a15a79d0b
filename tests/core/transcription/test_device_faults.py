"""Device faults: out of memory falls back to smaller chunks, then to the CPU, and says so.

There is no GPU here, so the out-of-memory errors are injected: the engine is
told it is on ``cuda`` (only a label: every tensor stays on the CPU) and
``Engine.plain_steps`` / ``plain_spectrogram`` are wrapped to raise the error
CUDA raises, under conditions each test chooses.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.conftest import synth_notes
from unmf_core.transcription import fallback
from unmf_core.frontend.audio import Audio
from unmf_core.cli import main
from unmf_core.frontend.cqt import compute_cqt
from unmf_core.errors import DeviceError
from unmf_core.transcription.engine import Engine, Options
from unmf_core.transcription.templates import harmonic_templates
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU

SECONDS = 6.0
DEFAULT = Options().chunk_seconds  # the first attempt uses the default chunking (longer than the input)
PIECE = [(60, 0.5, 2.0), (64, 2.0, 3.5), (67, 4.0, 5.5)]


def _oom(msg="CUDA out of memory. Tried to allocate 2.00 GiB"):
    return torch.cuda.OutOfMemoryError(msg)


def _model():
    model = UnrolledMU(UnrolledConfig(n_layers=4, hidden=4, w_every=2)).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return model


@pytest.fixture(scope="module")
def audio():
    return Audio(synth_notes(PIECE, duration=SECONDS), 22050)


@pytest.fixture
def engine():
    return Engine(templates=harmonic_templates(), model=_model(), device="cpu")


@pytest.fixture(scope="module")
def reference(audio):
    eng = Engine(templates=harmonic_templates(), model=_model(), device="cpu")
    M = eng.spectrogram(audio)
    return {m: [s.H.clone() for s in eng.steps(M, Options(method=m, iterations=6, chunk_seconds=None))]
            for m in ("unrolled", "mu")}


def _fake_gpu(engine, monkeypatch, fails):
    """Label the engine 'cuda' and make plain_steps raise OOM when ``fails(opts, step_index)``."""
    engine.device = torch.device("cuda")
    real = Engine.plain_steps
    calls = []

    def plain_steps(self, M, opts):
        calls.append(opts.chunk_seconds)
        for step in real(self, M, opts):
            if self.device.type != "cpu" and fails(self.chunk_frames(M, opts), step.index):
                raise _oom()
            yield step

    monkeypatch.setattr(Engine, "plain_steps", plain_steps)
    _cpu_spectrogram(monkeypatch)
    return calls


def _cpu_spectrogram(monkeypatch):
    """The CQT of a 'cuda'-labelled engine is computed on the CPU (there is no GPU)."""
    monkeypatch.setattr(Engine, "plain_spectrogram",
                        lambda self, a, cancel=None: compute_cqt(a.samples, self.cqt, torch.device("cpu")))


def _same(steps, ref):
    assert [s.index for s in steps] == list(range(len(ref)))
    for s, r in zip(steps, ref):
        assert float((s.H - r).abs().max()) <= 1e-4 * float(r.abs().max())


def _steps_raise(monkeypatch, exc: BaseException) -> None:
    """Make every factorisation fail with ``exc`` before its first step."""
    def plain_steps(self, M, opts):
        yield from ()
        raise exc

    monkeypatch.setattr(Engine, "plain_steps", plain_steps)


@pytest.mark.parametrize("method", ["unrolled", "mu"])
def test_oom_mid_run_retries_in_smaller_chunks(engine, audio, reference, monkeypatch, caplog, method):
    M = engine.spectrogram(audio)
    # whole-file runs fail at step 3; chunked runs (1.5 s chunks) fit
    calls = _fake_gpu(engine, monkeypatch, lambda chunk, i: chunk is None and i == 3)
    with caplog.at_level(logging.WARNING, logger="unmf"):
        steps = list(engine.steps(M, Options(method=method, iterations=6)))
    _same(steps, reference[method])  # every step once, same values
    assert calls == [DEFAULT, pytest.approx(1.5, rel=1e-2)]
    assert engine.device.type == "cuda"  # no need for the CPU
    assert engine.notices == ["out of memory on cuda: retrying in chunks of 1.5 s"]
    assert "retrying in chunks of 1.5 s" in caplog.text


def test_oom_everywhere_falls_back_to_cpu(engine, audio, reference, monkeypatch):
    M = engine.spectrogram(audio)
    calls = _fake_gpu(engine, monkeypatch, lambda chunk, i: i == 2)
    steps = list(engine.steps(M, Options(method="unrolled")))
    _same(steps, reference["unrolled"])
    assert calls == [DEFAULT, pytest.approx(1.5, rel=1e-2), DEFAULT]
    assert engine.device.type == "cpu"
    assert engine.notices[-1].startswith("out of memory on cuda even in small chunks: continuing on the CPU")


def test_transcription_records_the_fallback(engine, audio, monkeypatch):
    _fake_gpu(engine, monkeypatch, lambda chunk, i: True)
    res = engine.transcribe(audio, Options(method="unrolled"))
    assert res.params["device"] == "cpu"
    assert len(res.params["fallback"]) == 2 and "CPU" in res.params["fallback"][-1]
    assert res.H.shape[0] == 88 and np.isfinite(res.H).all()
    assert {n.pitch for n in res.notes} >= {60, 64, 67}
    # a second run on the (now CPU) engine has nothing to report
    assert "fallback" not in engine.transcribe(audio, Options(method="unrolled")).params


def test_oom_in_the_spectrogram_computes_it_on_cpu(engine, audio, monkeypatch):
    engine.device = torch.device("cuda")

    def plain_spectrogram(self, a, cancel=None):
        raise _oom()

    monkeypatch.setattr(Engine, "plain_spectrogram", plain_spectrogram)
    monkeypatch.setattr(torch.Tensor, "to", lambda self, *a, **k: self)  # "moving" it back to the fake GPU
    M = engine.spectrogram(audio)
    monkeypatch.undo()
    assert M.shape[0] == 288 and torch.isfinite(M).all()
    assert engine.notices == ["out of memory on cuda computing the spectrogram: computing it on the CPU"]


def test_oom_on_cpu_is_a_clear_device_error(engine, audio, monkeypatch):
    M = engine.spectrogram(audio)

    _steps_raise(monkeypatch,
                 RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory"))
    with pytest.raises(DeviceError, match="out of memory on the CPU"):
        list(engine.steps(M, Options()))


def test_other_errors_are_not_retried(engine, audio, monkeypatch):
    M = engine.spectrogram(audio)
    engine.device = torch.device("cuda")
    calls = []

    def plain_steps(self, M, opts):
        calls.append(1)
        yield from ()
        raise RuntimeError("CUDA error: device-side assert triggered")

    monkeypatch.setattr(Engine, "plain_steps", plain_steps)
    with pytest.raises(RuntimeError, match="device-side assert"):
        list(engine.steps(M, Options()))
    assert calls == [1] and engine.notices == []


@pytest.mark.parametrize("exc, oom", [
    (torch.cuda.OutOfMemoryError("CUDA out of memory"), True),
    (RuntimeError("CUDA error: out of memory"), True),
    (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 4 bytes"), True),
    (MemoryError(), True),
    (RuntimeError("shape mismatch"), False),
    (ValueError("out of memory"), False),
])
def test_is_out_of_memory(exc, oom):
    assert fallback.is_out_of_memory(exc) is oom


def test_chunk_plan():
    assert fallback.chunk_plan(862, 86.13, 30.0) == pytest.approx([2.5], rel=1e-2)  # 10 s
    assert fallback.chunk_plan(86 * 3600, 86.0, 30.0) == [7.5, 1.875]  # an hour, 30 s chunks
    assert fallback.chunk_plan(86, 86.0, 30.0) == []  # 1 s: straight to the CPU


def test_cancel_during_fallback_stops(engine, audio, monkeypatch):
    """Closing the generator (a cancel) during a retried run stops it without further retries."""
    M = engine.spectrogram(audio)
    calls = _fake_gpu(engine, monkeypatch, lambda chunk, i: chunk is None and i == 1)
    it = engine.steps(M, Options(method="unrolled"))
    got = [next(it), next(it), next(it)]
    it.close()
    assert [s.index for s in got] == [0, 1, 2] and calls == [DEFAULT, pytest.approx(1.5, rel=1e-2)]


# ---- the CLI ------------------------------------------------------------------------------------

def test_cli_cuda_without_gpu_is_exit_6(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    wav = tmp_path / "x.wav"
    sf.write(str(wav), synth_notes([(60, 0.1, 0.5)]), 22050)
    rc = main(["transcribe", str(wav), "-o", str(tmp_path / "o.mid"), "--device", "cuda"])
    assert rc == DeviceError.exit_code == 6
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["unmf: error: --device cuda: no CUDA GPU is available (use --device cpu or auto)"]
    assert not (tmp_path / "o.mid").exists()


def test_cli_unknown_device_is_a_bad_argument(tmp_path, capsys):
    wav = tmp_path / "x.wav"
    sf.write(str(wav), synth_notes([(60, 0.1, 0.5)]), 22050)
    with pytest.raises(SystemExit) as e:
        main(["transcribe", str(wav), "-o", str(tmp_path / "o.mid"), "--device", "tpu9"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "'tpu9': use auto, cpu, cuda or cuda:N" in err[0]


def test_cli_reports_the_fallback_and_succeeds(tmp_path, capsys, monkeypatch):
    wav = tmp_path / "x.wav"
    sf.write(str(wav), synth_notes(PIECE, duration=SECONDS), 22050)
    real_init = Engine.__init__

    def init(self, *a, **k):
        real_init(self, *a, **k)
        self.device = torch.device("cuda")  # label only

    real_steps = Engine.plain_steps

    def plain_steps(self, M, opts):
        if self.device.type != "cpu":
            raise _oom()
        yield from real_steps(self, M, opts)

    monkeypatch.setattr(Engine, "__init__", init)
    monkeypatch.setattr(Engine, "plain_steps", plain_steps)
    _cpu_spectrogram(monkeypatch)
    rc = main(["transcribe", str(wav), "-o", str(tmp_path / "o.mid"), "--method", "mu", "--iterations", "5"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    warnings = [ln for ln in cap.err.splitlines() if ln.startswith("unmf: warning:")]
    assert warnings == ["unmf: warning: out of memory on cuda: retrying in chunks of 1.5 s",
                        "unmf: warning: out of memory on cuda even in small chunks: continuing on the CPU (slower)"]
    assert (tmp_path / "o.mid").exists()


def test_cli_oom_on_cpu_is_one_line(tmp_path, capsys, monkeypatch):
    wav = tmp_path / "x.wav"
    sf.write(str(wav), synth_notes([(60, 0.1, 0.5)]), 22050)

    _steps_raise(monkeypatch, RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"))
    rc = main(["transcribe", str(wav), "-o", str(tmp_path / "o.mid"), "--device", "cpu"])
    assert rc == 6
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("unmf: error: out of memory on the CPU"), err
    assert not (tmp_path / "o.mid").exists()


def test_cli_unexpected_error_is_one_line(tmp_path, capsys, monkeypatch):
    wav = tmp_path / "x.wav"
    sf.write(str(wav), synth_notes([(60, 0.1, 0.5)]), 22050)

    _steps_raise(monkeypatch, ZeroDivisionError("a bug\nwith two lines"))
    monkeypatch.delenv("UNMF_DEBUG", raising=False)
    assert main(["transcribe", str(wav), "-o", str(tmp_path / "o.mid")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["unmf: error: unexpected ZeroDivisionError: a bug with two lines "
                   "(set UNMF_DEBUG=1 to see the traceback)"]
    monkeypatch.setenv("UNMF_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["transcribe", str(wav), "-o", str(tmp_path / "o2.mid")])


# ---- the fallback on its own: a factory of step iterators, no engine -----------------------------

def test_with_fallback_wraps_any_step_factory():
    """Chunks shrink, then the CPU takes over; each step is delivered once; notices go to the callback."""
    calls, notices = [], []

    def make_steps(chunk_seconds, device):
        calls.append((chunk_seconds, device.type))
        for i in range(4):
            if device.type != "cpu" and i == 2:
                raise _oom()
            yield i

    got = list(fallback.with_fallback(make_steps, 10.0, [2.5, 0.6], torch.device("cuda"), notices.append))
    assert got == [0, 1, 2, 3]
    assert calls == [(10.0, "cuda"), (2.5, "cuda"), (0.6, "cuda"), (10.0, "cpu")]
    assert notices == ["out of memory on cuda: retrying in chunks of 2.5 s",
                       "out of memory on cuda: retrying in chunks of 0.6 s",
                       "out of memory on cuda even in small chunks: continuing on the CPU (slower)"]


def test_fallback_module_knows_nothing_of_the_engine():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(fallback))
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any("engine" in m or "options" in m for m in imported), imported
