"""Write benchmark results: ``results.json``, ``results.md`` (tables), PNG plots and ``README.md``."""
from __future__ import annotations

import json
from pathlib import Path

TARGETS = {
    "unrolled": "batched layer ≥ 20× faster than the per-key loop",
    "mu": "≥ 1.5× faster per iteration than scikit-learn, same divergence",
    "e2e": "≤ 0.05 s per second of audio on CPU (default settings)",
    "memory": "10-minute recording with peak RSS ≤ 1.5 GB",
    "first_layer": "first layer on screen ≤ 0.3 s after a 30 s file is opened",
}


def _table(header: list[str], rows: list[list]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def markdown(res: dict) -> str:
    """All result tables as markdown."""
    m = res.get("machine", {})
    out = [f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, torch threads {m.get('torch_threads', '?')}, "
           f"{m.get('memory_gb', '?')} GB RAM, GPU: {m.get('gpu') or 'none'}; torch {m.get('torch', '?')}; "
           f"load average at start {m.get('load_average_at_start')}; {m.get('date', '')}"
           + (" (quick run)" if res.get("quick") else "")]
    if "cqt" in res:
        out += ["### 1. CQT front end vs `librosa.cqt` (same parameters)", _table(
            ["audio s", "ours s", "librosa s", "speed-up", "max |Δ| / peak", "median rel. err (bins > 1e-3 peak)",
             "min frame corr. (frames above −60 dB)"],
            [[r["seconds"], r["ours_s"], r["librosa_s"], r["speedup"], r["max_abs_err_rel_to_peak"],
              r["median_rel_err_above_1e-3_peak"], r["min_frame_correlation"]] for r in res["cqt"]["rows"]])]
    if "mu" in res:
        out += ["### 2. MU per iteration vs scikit-learn (`solver='mu'`, KL, same matrices)", _table(
            ["audio s", "updates", "ours ms/it", "ours chunked ms/it", "sklearn ms/it", "speed-up",
             "speed-up chunked", "D ours", "D sklearn", "rel. diff"],
            [[r["seconds"], "W+H" if r["update_w"] else "H (W fixed)", 1e3 * r["ours_s_per_iter"],
              1e3 * r["chunked_s_per_iter"], 1e3 * r["sklearn_s_per_iter"], r["speedup"], r["chunked_speedup"],
              r["divergence_ours"], r["divergence_sklearn"],
              f'{r["divergence_rel_diff"]:.1e}'] for r in res["mu"]["rows"]])]
    if "unrolled" in res:
        out += ["### 3. Unrolled layer: batched CNN vs per-key loop (random default-size model)", _table(
            ["audio s", "layer batched ms", "layer as Engine runs it ms", "layer per-key ms", "layer speed-up",
             "Engine layer speed-up", "accel. batched ms", "accel. per-key ms", "accel. speed-up", "same output"],
            [[r["seconds"], 1e3 * r["layer_batched_s"], 1e3 * r["layer_engine_s"], 1e3 * r["layer_per_key_s"],
              r["layer_speedup"], r["layer_engine_speedup"],
              1e3 * r["accel_batched_s"], 1e3 * r["accel_per_key_s"], r["accel_speedup"], r["outputs_agree"]]
             for r in res["unrolled"]["rows"]])]
    c = res.get("convergence")
    if c and "summary" in c:
        s = c["summary"]
        out += [f"### 4. Convergence on piano-dataset examples 2-4 (model: {c['model']})", _table(
            ["method", "steps", "mean time s", "D / D₀", "onset F"],
            [["MU, W fixed", s["mu"]["steps"], s["mu"]["mean_time_s"], s["mu"]["mean_rel_divergence"],
              s["mu"]["mean_onset_f"]],
             ["MU, W updated", s["mu_w"]["steps"], s["mu_w"]["mean_time_s"], s["mu_w"]["mean_rel_divergence"],
              s["mu_w"]["mean_onset_f"]],
             ["MU W fixed, as many steps as layers", s["mu_same_steps_as_layers"]["steps"], "",
              s["mu_same_steps_as_layers"]["mean_rel_divergence"], s["mu_same_steps_as_layers"]["mean_onset_f"]],
             ["unrolled", s["unrolled"]["steps"], s["unrolled"]["mean_time_s"], s["unrolled"]["mean_rel_divergence"],
              s["unrolled"]["mean_onset_f"]]]), "", "![convergence](convergence.png)"]
    elif c:
        out += ["### 4. Convergence", c.get("skipped", "")]
    if "e2e" in res:
        rows = res["e2e"]["rows"]
        out += ["### 5. End to end (load, CQT, layers, notes, MIDI; fresh process each run)", _table(
            ["audio s", "device", "OpenMP wait", "s per audio s", "pipeline s", "CQT s", "factorise s", "notes s",
             "start-up s", "peak RSS MB"],
            [[r["seconds"], r["device"], r.get("wait_policy") or "", r["s_per_audio_s"], r["pipeline_s"],
              r["stages_s"]["cqt"], r["stages_s"]["factorise"], r["stages_s"]["notes"], r["startup_s"],
              r["peak_rss_mb"]] for r in rows])]
        f = res["e2e"].get("first_layer_30s")
        if f:
            out += ["", f"App path on a 30 s file (load + CQT + init + first layer): **{f['warm_s']:.3f} s** with "
                        f"the engine and CQT filters ready, {f['cold_s']:.3f} s when the CQT filters are built on "
                        f"the first file."]
    if "memory" in res:
        out += ["### 6. Peak memory (fresh process, CPU)", _table(
            ["audio s", "chunked", "peak RSS MB", "pipeline s", "s per audio s"],
            [[r["seconds"], r["chunked"], r["peak_rss_mb"], r["pipeline_s"], r["s_per_audio_s"]]
             for r in res["memory"]["rows"]])]
    return "\n\n".join(out) + "\n"


def plots(res: dict, folder: Path) -> list[str]:
    """PNG plots of the speed ratios and of the convergence traces."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    written = []
    bars = []
    if "cqt" in res:
        bars += [(f"CQT {r['seconds']}s", r["speedup"]) for r in res["cqt"]["rows"]]
    if "mu" in res:
        bars += [(f"MU {'W+H' if r['update_w'] else 'H'} {r['seconds']}s", r["chunked_speedup"])
                 for r in res["mu"]["rows"]]
    if "unrolled" in res:
        bars += [(f"layer {r['seconds']}s", r["layer_engine_speedup"]) for r in res["unrolled"]["rows"]]
    if bars:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.bar(range(len(bars)), [b[1] for b in bars], color="tab:blue")
        ax.set_xticks(range(len(bars)), [b[0] for b in bars], rotation=45, ha="right", fontsize=8)
        ax.axhline(1, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylabel("speed-up vs reference (×)")
        ax.set_title("Speed ratios measured in the same run")
        fig.tight_layout()
        fig.savefig(folder / "speedups.png", dpi=110)
        plt.close(fig)
        written.append("speedups.png")
    c = res.get("convergence")
    if c and "files" in c:
        fig, axes = plt.subplots(2, 2, figsize=(10, 7))
        for method, color in (("mu", "tab:blue"), ("mu_w", "tab:green"), ("unrolled", "tab:red")):
            if method not in c["files"][0]:
                continue
            for i, f in enumerate(c["files"]):
                tr = f[method]
                d0 = tr[0]["divergence"]
                steps = np.array([r["step"] for r in tr])
                t = np.array([r["time_s"] for r in tr])
                d = np.array([r["divergence"] / d0 for r in tr])
                kw = dict(color=color, alpha=0.8, label=method if i == 0 else None)
                axes[0, 0].plot(np.maximum(steps, 0.8), d, **kw)
                axes[0, 1].plot(np.maximum(t, 1e-3), d, **kw)
                fr = [(r["step"], r["time_s"], r["onset_f"]) for r in tr if "onset_f" in r]
                axes[1, 0].plot([max(x[0], 0.8) for x in fr], [x[2] for x in fr], marker=".", **kw)
                axes[1, 1].plot([max(x[1], 1e-3) for x in fr], [x[2] for x in fr], marker=".", **kw)
        for ax in axes.flat:
            ax.set_xscale("log")
            ax.grid(alpha=0.3)
            ax.legend()
        axes[0, 0].set(ylabel="D / D₀", yscale="log", title="divergence vs steps")
        axes[0, 1].set(yscale="log", title="divergence vs wall time")
        axes[1, 0].set(xlabel="steps (iterations / layers)", ylabel="note onset F", title="onset F vs steps")
        axes[1, 1].set(xlabel="wall time s", title="onset F vs wall time")
        fig.suptitle(f"piano-dataset 2-4, model: {c['model']}")
        fig.tight_layout()
        fig.savefig(folder / "convergence.png", dpi=110)
        plt.close(fig)
        written.append("convergence.png")
    return written


def write(res: dict, folder: Path) -> list[Path]:
    """Write every output under ``folder``; returns the paths."""
    from unmf_core.io.atomic import write_bytes_atomic

    folder.mkdir(parents=True, exist_ok=True)
    md = markdown(res)
    write_bytes_atomic(folder / "results.json", json.dumps(res, indent=1).encode(), overwrite=True)
    write_bytes_atomic(folder / "results.md", md.encode(), overwrite=True)
    return [folder / "results.json", folder / "results.md", *(folder / p for p in plots(res, folder))]
