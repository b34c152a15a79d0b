"""benchmarks.app's report: a step that no open painted is shown as such, not as 'nan s'."""
import json
import math

from benchmarks.app import write


def _result(init: float) -> dict:
    row = {"init": init, "layer1": 0.1, "last": 0.3, "finished": 0.4, "cpu": 0.5}
    speed = {"seconds": 30.0, "layers": 10,
             "divergence_shown": {**row, "runs": [row]}, "divergence_hidden": {**row, "runs": [row]}}
    memory = {"seconds": 3600.0, "peak_rss_mb": 1345.0, "kept_steps": [10], "notes": 5, "wall_s": 40.0,
              "max_rss_by_phase_mb": {"start": 1100.0, "loaded": 1345.0}}
    return {"machine": {"cpu": "cpu", "cores": 2, "load_average_at_start": [0, 0, 0]},
            "load_average_at_end": [0, 0, 0], "speed": speed, "memory": memory}


def test_unpainted_step_is_a_dash_with_its_reason(tmp_path):
    jpath, mpath = write(_result(math.nan), tmp_path)
    md = mpath.read_text()
    assert "nan" not in md
    assert "| shown | — | 0.100 s | 0.300 s | 0.400 s | 0.500 s |" in md
    assert "no open painted that step" in md
    assert math.isnan(json.loads(jpath.read_text())["speed"]["divergence_shown"]["init"])  # the data keep NaN


def test_painted_step_is_a_time(tmp_path):
    _, mpath = write(_result(0.05), tmp_path)
    assert "| hidden | 0.050 s | 0.100 s |" in mpath.read_text()
