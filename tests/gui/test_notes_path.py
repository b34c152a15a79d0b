"""The app's notes come from the engine's one H → notes path.

What the app shows and exports is what `unmf transcribe` gives."""
from __future__ import annotations

import numpy as np
import soundfile as sf

from tests.conftest import synth_notes
from gui_helpers import PIECE, open_and_wait
from unmf_core.transcription.notes import read_midi, write_midi
from unmf_core.transcription.engine import Engine, Options


def _noisy_piece(tmp_path):
    """The test piece over steady broadband noise (where the background gate matters)."""
    y = synth_notes(PIECE, duration=3.5)
    y = y + 0.02 * np.random.default_rng(1).standard_normal(len(y)).astype(np.float32)
    path = tmp_path / "noisy.wav"
    sf.write(path, y, 22050)
    return path


def _triples(notes):
    return [(n.pitch, round(n.onset, 4), round(n.offset, 4)) for n in notes]


def test_exported_midi_equals_the_cli_transcription(qtbot, win, tmp_path):
    path = _noisy_piece(tmp_path)
    open_and_wait(qtbot, win, path)
    app = tmp_path / "app.mid"
    assert win.files.export_midi(app)
    cli = Engine(device="cpu").transcribe(path)
    write_midi(cli.notes, tmp_path / "cli.mid")
    assert cli.notes, "the noisy piece should give notes"
    assert _triples(read_midi(app)) == _triples(read_midi(tmp_path / "cli.mid"))
    assert _triples(win.vm.notes) == _triples(cli.notes)


def test_white_noise_gives_the_cli_note_count(qtbot, win, tmp_path):
    path = tmp_path / "white_noise.wav"
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(22050 * 4).astype(np.float32), 22050)
    open_and_wait(qtbot, win, path)
    cli = Engine(device="cpu").transcribe(path)
    assert len(win.vm.notes) == len(cli.notes)
    assert _triples(win.vm.notes) == _triples(cli.notes)


def test_compare_columns_show_the_cli_notes_of_each_method(qtbot, win, tmp_path):
    path = _noisy_piece(tmp_path)
    win.iterations_box.setValue(30)
    open_and_wait(qtbot, win, path)
    with qtbot.waitSignal(win.run_finished, timeout=60000):
        win.compare()
    win.vm.set_compare_step(win.vm.compare_max())
    engine = Engine(device="cpu")
    for method in ("unrolled", "mu"):
        step, _, notes = win.vm.compare_snapshot(method)
        cli = engine.transcribe(path, Options(method=method, iterations=30))
        assert step == (30 if method == "mu" else win.layers_box.value())
        assert _triples(notes) == _triples(cli.notes), method


def test_the_seed_white_noise_file_gives_the_cli_notes(qtbot, win, shared_data):
    path = shared_data / "white_noise.wav"
    open_and_wait(qtbot, win, path)
    cli = Engine(device="cpu").transcribe(path)
    assert _triples(win.vm.notes) == _triples(cli.notes) and len(cli.notes) <= 5
