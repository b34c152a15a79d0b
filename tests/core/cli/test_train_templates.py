"""``unmf train --make-data``: every rendered piece is paired with its own instrument's template set (no FluidSynth)."""
import argparse
import json
from types import SimpleNamespace

import numpy as np

import unmf_core.training.synthdata as synthdata
from unmf_core.cli import train as train_cli


def _folder(path, pieces: dict) -> None:
    for sub in ("audio", "midi"):
        (path / sub).mkdir(parents=True)
    for name in pieces:
        (path / "audio" / f"{name}.wav").touch()
        (path / "midi" / f"{name}.mid").touch()
    (path / "manifest.json").write_text(json.dumps(pieces))


def test_each_piece_gets_its_soundfont_and_programs_set(tmp_path, monkeypatch):
    rendered = []

    def fake_templates(cqt, program, soundfont=None):
        rendered.append((soundfont, program))
        return SimpleNamespace(W=np.full((2, 88), len(rendered), np.float32))

    monkeypatch.setattr(synthdata, "make_templates", fake_templates)
    tuned = {"offset_cents": 3.0, "bass_cents": 0.0, "treble_cents": 0.0, "rt60": 0.0, "eq_db": 0.0, "snr_db": 0.0}
    _folder(tmp_path / "train", {"a": {"soundfont": "FluidR3_GM.sf2", "program": 1, "augmentation": tuned},
                                 "b": {"soundfont": "TimGM6mb.sf2", "program": 0, "augmentation": tuned}})
    _folder(tmp_path / "val", {"v": {"soundfont": "TimGM6mb.sf2", "program": 1, "augmentation": tuned}})
    (tmp_path / "train" / "audio" / "unlisted.wav").touch()  # a piece the manifest does not list
    (tmp_path / "train" / "midi" / "unlisted.mid").touch()
    train_ex = [SimpleNamespace(template=None) for _ in range(3)]
    val_ex = [SimpleNamespace(template=None)]
    args = argparse.Namespace(template_programs=None, programs=[0, 0, 1], soundfonts=None, default_share=0.5)
    sets, meta = train_cli._own_template_sets(args, [np.zeros((2, 88))], None, tmp_path / "train",
                                               tmp_path / "val", train_ex, val_ex)
    assert len(sets) == 1 + 2 * 2 and len(rendered) == 4  # default + 2 SoundFonts × programs {0, 1}
    assert [r[0].endswith(f) for r, f in zip(rendered, ["FluidR3_GM.sf2"] * 2 + ["TimGM6mb.sf2"] * 2)] == [True] * 4
    by_name = dict(zip(["a", "b", "unlisted"], train_ex))
    assert rendered[by_name["a"].template - 1] == (rendered[1][0], 1)  # FluidR3, program 1
    assert rendered[by_name["b"].template - 1] == (rendered[2][0], 0)  # TimGM6mb, program 0
    assert by_name["unlisted"].template is None
    assert rendered[val_ex[0].template - 1] == (rendered[3][0], 1)
    assert meta["soundfonts"] == ["FluidR3_GM.sf2", "TimGM6mb.sf2"] and meta["template_programs"] == [0, 1]
    assert meta["augmentation"] != "none"
