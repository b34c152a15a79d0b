import numpy as np
import pytest

from unmf_core.frontend.cqt import CQTParams
from unmf_core.errors import TemplateError
from unmf_core.transcription.templates import Templates, harmonic_templates, key_index, read_templates


def test_key_names_parse():
    assert key_index("A0") == 0 and key_index("C8") == 87 and key_index("A#4") == 49
    assert key_index("Bb4") == 49 and key_index("C9") is None and key_index("notes") is None


def test_save_load_round_trip(tmp_path):
    t = harmonic_templates()
    t.save(tmp_path / "w.npz")
    u = read_templates(tmp_path / "w.npz", CQTParams())
    assert np.allclose(t.W, u.W) and u.source == t.source


def test_incompatible_or_malformed_files_are_refused(tmp_path):
    t = harmonic_templates()
    Templates(t.W, CQTParams(bins_per_octave=36, n_bins=288, fmin=27.5), "x").save(tmp_path / "ok.npz")
    with pytest.raises(TemplateError, match="another CQT"):
        read_templates(tmp_path / "ok.npz", CQTParams(fmin=32.7))
    np.savez(tmp_path / "bad.npz", W=np.ones((10, 3)))
    with pytest.raises(TemplateError):
        read_templates(tmp_path / "bad.npz")
    with pytest.raises(TemplateError, match="no such"):
        read_templates(tmp_path / "missing.npz")
    with pytest.raises(TemplateError, match="a folder, not a templates file"):
        read_templates(tmp_path)


def test_harmonic_templates_peak_at_fundamental():
    t = harmonic_templates()
    assert [int(np.argmax(t.W[:, k])) for k in (0, 40, 80)] == [0, 120, 240]
