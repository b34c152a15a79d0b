import numpy as np
import pytest
import soundfile as sf

from tests.conftest import synth_notes
from unmf_core.cqt import CQTParams
from unmf_core.errors import TemplateError
from unmf_core.templates import Templates, build_from_folder, harmonic_templates, key_index, load_templates


def test_key_names_parse():
    assert key_index("A0") == 0 and key_index("C8") == 87 and key_index("A#4") == 49
    assert key_index("Bb4") == 49 and key_index("C9") is None and key_index("notes") is None


def test_build_from_folder_picks_loudest_frame_and_fills_missing(tmp_path):
    p = CQTParams()
    for name, pitch in [("A3", 57), ("C#5", 73), ("E6", 88)]:
        y = synth_notes([(pitch, 0.3, 1.2)], sr=p.sr, duration=1.5)
        sf.write(tmp_path / f"{name}.wav", y, p.sr)
    (tmp_path / "readme.txt").write_text("ignored")
    t = build_from_folder(tmp_path, p)
    assert t.W.shape == (288, 88)
    assert np.allclose(np.linalg.norm(t.W, axis=0), 1, atol=1e-5)
    assert len(t.filled) == 85 and "A3" not in t.filled
    assert t.meta["method"] == "notes-folder" and set(t.meta["recorded"]) == {"A3", "C#5", "E6"}
    k = 57 - 21
    assert int(np.argmax(t.W[:, k])) == 3 * k
    # a predicted key peaks at its own fundamental (the recorded timbre, moved to its pitch)
    assert int(np.argmax(t.W[:, k + 1])) == 3 * (k + 1)


def test_save_load_round_trip(tmp_path):
    t = harmonic_templates()
    t.save(tmp_path / "w.npz")
    u = load_templates(tmp_path / "w.npz", CQTParams())
    assert np.allclose(t.W, u.W) and u.source == t.source


def test_incompatible_or_malformed_files_are_refused(tmp_path):
    t = harmonic_templates()
    Templates(t.W, CQTParams(bins_per_octave=36, n_bins=288, fmin=27.5), "x").save(tmp_path / "ok.npz")
    with pytest.raises(TemplateError, match="another CQT"):
        load_templates(tmp_path / "ok.npz", CQTParams(fmin=32.7))
    np.savez(tmp_path / "bad.npz", W=np.ones((10, 3)))
    with pytest.raises(TemplateError):
        load_templates(tmp_path / "bad.npz")
    with pytest.raises(TemplateError, match="no such"):
        load_templates(tmp_path / "missing.npz")
    with pytest.raises(TemplateError, match="no recordings"):
        load_templates(tmp_path)


def test_harmonic_templates_peak_at_fundamental():
    t = harmonic_templates()
    assert [int(np.argmax(t.W[:, k])) for k in (0, 40, 80)] == [0, 120, 240]
