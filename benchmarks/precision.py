"""bfloat16 against float32 for the CNNs of the bundled model, on the quality benchmark's rendered set.

``python -m benchmarks.precision [--quality-cache DIR]`` transcribes every file of the
quality set (:mod:`benchmarks.quality`, rendered there once) with the default unrolled
model twice, the precisions taking turns file by file, in one process with one torch
thread, and writes ``docs/benchmarks/precision.md`` / ``.json``: mean onset-F and
offset-F per source and room for each, and the time of the factorisation. The engine's
default (:func:`unmf_core.nmf.precision.inference_precision`) is bfloat16 on CPUs that run it
natively; this is the check that it costs no quality.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from .common import ROOT


def run(cache: str | Path | None = None, progress=print) -> dict:
    import torch

    from unmf_core.nmf.precision import bf16_supported
    from unmf_core.transcription.engine import Engine, Options
    from unmf_core.transcription.notes import read_midi

    from .quality import build_set, cache_dir, score

    torch.set_num_threads(1)
    items = build_set(cache_dir(cache), progress=progress)
    engine = Engine(device="cpu")
    rows: dict[str, list[dict]] = {"float32": [], "bfloat16": []}
    for n, it in enumerate(items):
        ref = read_midi(it["midi"])
        for key in rows:
            engine.model.set_precision(getattr(torch, key))
            res = engine.transcribe(it["audio"], Options(track_divergence=False))
            rows[key].append({"source": it["source"], "room": it["room"], **score(ref, res.notes),
                              "factorise_s": res.timings["factorise"], "total_s": res.timings["total"]})
        if (n + 1) % 16 == 0:
            progress(f"[precision] {n + 1}/{len(items)}")
    groups = sorted({(r["source"], r["room"]) for r in rows["float32"]})
    table = {f"{s}/{room}": {k: {m: float(np.mean([r[m] for r in rs if (r["source"], r["room"]) == (s, room)]))
                                 for m in ("onset_f", "offset_f")} for k, rs in rows.items()}
             for s, room in groups}
    return {"bf16_supported": bf16_supported(), "files": len(items), "table": table,
            "all": {k: {m: float(np.mean([r[m] for r in rs])) for m in ("onset_f", "offset_f")}
                    for k, rs in rows.items()},
            "factorise_s": {k: float(sum(r["factorise_s"] for r in rs)) for k, rs in rows.items()},
            "load_average_at_end": list(os.getloadavg()), "rows": rows}


def write(res: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "precision.json").write_text(json.dumps(res, indent=1))
    lines = ["# bfloat16 against float32 (the CNNs of the bundled model)", "",
             f"`python -m benchmarks.precision --quality-cache DIR`: the {res['files']} files of the quality set "
             "(`quality.md`), default unrolled model and note settings, the two precisions taking turns file by "
             f"file, one torch thread. Native bfloat16 on this CPU: {res['bf16_supported']}.", "",
             "| source / room | onset-F float32 | onset-F bfloat16 | difference | offset-F float32 "
             "| offset-F bfloat16 |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, v in list(res["table"].items()) + [("all files", res["all"])]:
        a, b = v["float32"], v["bfloat16"]
        lines.append(f"| {name} | {a['onset_f']:.4f} | {b['onset_f']:.4f} | {b['onset_f'] - a['onset_f']:+.4f} "
                     f"| {a['offset_f']:.4f} | {b['offset_f']:.4f} |")
    f = res["factorise_s"]
    lines += ["", f"Factorisation, all files: float32 {f['float32']:.1f} s, bfloat16 {f['bfloat16']:.1f} s "
              f"({f['bfloat16'] / f['float32']:.2f}×; load average at the end "
              f"{', '.join(f'{x:.1f}' for x in res['load_average_at_end'])}: a shared machine, times are rough)."]
    (out / "precision.md").write_text("\n".join(lines) + "\n")
    return [out / "precision.md", out / "precision.json"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.precision", description=__doc__.split("\n")[0])
    p.add_argument("--quality-cache", default=None, help="folder of the quality set (as benchmarks --only quality)")
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    args = p.parse_args(argv)
    for path in write(run(args.quality_cache), Path(args.out)):
        print(path)


if __name__ == "__main__":
    main()
