"""Benchmark 4: divergence and note onset-F against wall time and step count, MU vs unrolled MU.

Evaluation only, on ``../shared/data/seed/piano-dataset`` examples 2-4 (read
in place, nothing copied). Plain MU runs with W fixed and with W updated in
every iteration (the unrolled model updates W every ``w_every`` layers, so
both bracket it). The engine uses whatever default model is present
(``resources/models/default.pt``, else an untrained model, which is plain
MU); the report records which. Wall time counts only the steps: divergence
and note extraction run outside the timed part.
"""
from __future__ import annotations

import time

import numpy as np

from unmf_core.transcription.metrics import note_scores
from unmf_core.transcription.notes import extract_notes, read_midi
from unmf_core.transcription.engine import Engine, Options

from .common import SHARED

EXAMPLES = (2, 3, 4)
#: Traces: MU with W fixed, MU updating W in every iteration, the unrolled model (W every w_every layers).
METHODS = ("mu", "mu_w", "unrolled")
#: Steps of plain MU at which notes are extracted and scored.
MU_CHECKPOINTS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 400, 500)


def _trace(engine, M, ref, opts, checkpoints):
    beta = opts.beta if opts.method == "mu" else engine.model.cfg.beta
    from unmf_core.nmf.kernels import beta_divergence

    steps = engine.steps(M, opts)
    elapsed, out = 0.0, []
    t = time.perf_counter()
    for step in steps:
        elapsed += time.perf_counter() - t
        row = {"step": step.index, "time_s": elapsed,
               "divergence": float(beta_divergence(M, step.W @ step.H, beta))}
        if step.index in checkpoints:
            H = step.H.cpu().numpy()
            notes = extract_notes(H, engine.cqt.frame_rate, engine.notes_for(opts),
                                  background=engine.background(M, step.W, opts))
            row["onset_f"] = note_scores(ref, notes)["onset_f"]
        out.append(row)
        t = time.perf_counter()
    return out


def run(max_iter: int = 500) -> dict:
    """Trace MU (``max_iter`` iterations) and the unrolled model on each example."""
    folder = SHARED / "piano-dataset"
    if not folder.is_dir():
        return {"skipped": f"{folder} is not available"}
    engine = Engine(device="cpu")
    n_layers = engine.model.cfg.n_layers
    files = []
    for k in EXAMPLES:
        audio = engine.load(folder / "audio" / f"example-{k}.wav")
        ref = read_midi(folder / "midi" / f"example-{k}.mid")
        M = engine.spectrogram(audio)
        mu_ck = {0, *[c for c in MU_CHECKPOINTS if c <= max_iter]}
        mu_trace = _trace(engine, M, ref, Options(method="mu", iterations=max_iter, track_divergence=False), mu_ck)
        muw_trace = _trace(engine, M, ref, Options(method="mu", iterations=max_iter, update_w=True,
                                                   track_divergence=False), mu_ck)
        un_trace = _trace(engine, M, ref, Options(method="unrolled", track_divergence=False),
                          set(range(n_layers + 1)))
        files.append({"file": f"example-{k}.wav", "seconds": audio.duration, "mu": mu_trace, "mu_w": muw_trace,
                      "unrolled": un_trace})
    summary = {}
    for method in METHODS:
        last = [f[method][-1] for f in files]
        summary[method] = {"steps": last[0]["step"], "mean_time_s": float(np.mean([r["time_s"] for r in last])),
                           "mean_rel_divergence": float(np.mean([r["divergence"] / f[method][0]["divergence"]
                                                                 for r, f in zip(last, files)])),
                           "mean_onset_f": float(np.mean([r.get("onset_f", np.nan) for r in last]))}
    mu10 = [next(r for r in f["mu"] if r["step"] == min(n_layers, max_iter)) for f in files]
    summary["mu_same_steps_as_layers"] = {
        "steps": min(n_layers, max_iter),
        "mean_rel_divergence": float(np.mean([r["divergence"] / f["mu"][0]["divergence"]
                                              for r, f in zip(mu10, files)])),
        "mean_onset_f": float(np.mean([r.get("onset_f", np.nan) for r in mu10]))}
    return {"model": engine.describe()["model"], "model_kind": engine.describe()["model_kind"],
            "files": files, "summary": summary}
