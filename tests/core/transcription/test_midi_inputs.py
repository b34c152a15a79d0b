"""Odd reference MIDI files: empty, drums only, pitches outside A0..C8, overlapping notes, type 0 and 1.

The files are written here with mido (a pretty_midi dependency). Each goes
through :func:`unmf_core.transcription.notes.read_midi`, the metrics and ``unmf evaluate``.
"""
from __future__ import annotations

import json

import mido
import numpy as np
import pytest
import soundfile as sf

from tests.conftest import synth_notes
from unmf_core.cli import main
from unmf_core.errors import MidiError
from unmf_core.transcription.metrics import all_scores
from unmf_core.transcription.notes import Note, piano_roll, read_midi

TPB = 480  # ticks per beat; at the default 120 bpm one tick is 1/960 s


def _sec(t: float) -> int:
    return int(round(t * 2 * TPB))


def _events(notes, channel=0):
    """Absolute-time note events → delta-time messages (note-offs first at equal times)."""
    ev = []
    for p, a, b in notes:
        ev.append((_sec(a), 1, mido.Message("note_on", note=p, velocity=80, channel=channel)))
        ev.append((_sec(b), 0, mido.Message("note_off", note=p, velocity=0, channel=channel)))
    ev.sort(key=lambda e: (e[0], e[1]))
    out, now = [], 0
    for t, _, msg in ev:
        out.append(msg.copy(time=t - now))
        now = t
    return out


def _write(path, tracks, type_=1):
    mid = mido.MidiFile(type=type_, ticks_per_beat=TPB)
    for msgs in tracks:
        tr = mido.MidiTrack()
        tr.extend(msgs)
        tr.append(mido.MetaMessage("end_of_track", time=0))
        mid.tracks.append(tr)
    mid.save(str(path))
    return path


PIECE = [(60, 0.2, 1.0), (64, 0.5, 1.3)]


def _type0(path):
    return _write(path, [[mido.MetaMessage("set_tempo", tempo=500000, time=0)] + _events(PIECE)], type_=0)


def _type1(path):
    return _write(path, [[mido.MetaMessage("set_tempo", tempo=500000, time=0)], _events(PIECE[:1]),
                         _events(PIECE[1:], channel=1)], type_=1)


@pytest.fixture
def midis(tmp_path):
    return {
        "empty": _write(tmp_path / "empty.mid", [[]]),
        "drums_only": _write(tmp_path / "drums.mid", [_events([(36, 0.1, 0.2), (38, 0.5, 0.6)], channel=9)]),
        "outside_range": _write(tmp_path / "outside.mid", [_events([(12, 0.1, 0.5), (60, 0.2, 1.0),
                                                                     (115, 0.3, 0.6)])]),
        "overlapping": _write(tmp_path / "overlap.mid", [_events([(60, 0.2, 1.0), (60, 0.6, 1.4)])]),
        "type0": _type0(tmp_path / "type0.mid"),
        "type1": _type1(tmp_path / "type1.mid"),
    }


def test_empty_file_has_no_notes(midis):
    assert read_midi(midis["empty"]) == []


def test_drums_are_left_out(midis):
    assert read_midi(midis["drums_only"]) == []


def test_pitches_outside_the_piano_are_read_but_not_in_the_roll(midis):
    notes = read_midi(midis["outside_range"])
    assert sorted(n.pitch for n in notes) == [12, 60, 115]
    roll = piano_roll(notes, 200, 100.0)
    assert roll.sum() == roll[60 - 21].sum() > 0  # only the piano key is on the roll
    s = all_scores(notes, [Note(60, 0.2, 1.0)], 200, 100.0)
    assert s["frame_f"] == 1.0
    assert s["onset_recall"] == pytest.approx(1 / 3)  # notes outside A0..C8 count as missed


def test_overlapping_same_key_notes(midis):
    notes = read_midi(midis["overlapping"])
    assert len(notes) == 2 and all(n.pitch == 60 and n.onset < n.offset for n in notes)
    assert [round(n.onset, 3) for n in notes] == [0.2, 0.6]
    s = all_scores(notes, notes, 200, 100.0)
    assert s["onset_f"] == 1.0 and s["frame_f"] == 1.0


def test_type0_and_type1_read_the_same(midis):
    a, b = read_midi(midis["type0"]), read_midi(midis["type1"])
    assert [(n.pitch, round(n.onset, 3), round(n.offset, 3)) for n in a] == \
        [(p, on, off) for p, on, off in PIECE]
    assert [(n.pitch, n.onset, n.offset) for n in a] == [(n.pitch, n.onset, n.offset) for n in b]


@pytest.mark.parametrize("content, reason", [(b"", "not a readable MIDI"), (b"MThd\x00\x00", "not a readable MIDI"),
                                             (b"RIFF....WAVEfmt ", "not a readable MIDI")])
def test_malformed_midi_is_an_error(tmp_path, content, reason):
    p = tmp_path / "bad.mid"
    p.write_bytes(content)
    with pytest.raises(MidiError, match=reason) as info:
        read_midi(p)
    assert "bad.mid" in str(info.value)


def test_missing_midi_is_an_error(tmp_path):
    with pytest.raises(MidiError, match="no such MIDI file"):
        read_midi(tmp_path / "none.mid")


@pytest.fixture
def eval_dirs(tmp_path):
    a, m = tmp_path / "audio", tmp_path / "midi"
    a.mkdir()
    m.mkdir()
    return a, m


@pytest.mark.parametrize("case", ["empty", "drums_only", "outside_range", "overlapping", "type0", "type1"])
def test_evaluate_accepts_odd_references(midis, eval_dirs, tmp_path, case, capsys):
    audio_dir, midi_dir = eval_dirs
    sf.write(str(audio_dir / "piece.wav"), synth_notes(PIECE), 22050)
    (midi_dir / "piece.mid").write_bytes(midis[case].read_bytes())
    out = tmp_path / "ev.json"
    rc = main(["evaluate", "--audio-dir", str(audio_dir), "--midi-dir", str(midi_dir), "--json", str(out),
               "--method", "mu", "--iterations", "10"])
    assert rc == 0, capsys.readouterr().err
    row = json.loads(out.read_text())["files"][0]
    assert row["n_ref"] == len(read_midi(midis[case]))
    assert all(np.isfinite(row[k]) and 0.0 <= row[k] <= 1.0 for k in ("onset_f", "offset_f", "frame_f"))
    if case in ("empty", "drums_only"):
        assert row["onset_f"] == 0.0 or row["n_est"] == 0


def test_evaluate_with_a_corrupt_reference_is_one_line(eval_dirs, tmp_path, capsys):
    audio_dir, midi_dir = eval_dirs
    sf.write(str(audio_dir / "piece.wav"), synth_notes(PIECE), 22050)
    (midi_dir / "piece.mid").write_bytes(b"MThd garbage")
    rc = main(["evaluate", "--audio-dir", str(audio_dir), "--midi-dir", str(midi_dir), "--json",
               str(tmp_path / "ev.json"), "--method", "mu", "--iterations", "5"])
    assert rc == MidiError.exit_code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("unmf: error: piece.mid: not a readable MIDI file"), err
    assert not (tmp_path / "ev.json").exists()


def test_evaluate_without_a_reference_is_a_data_error(eval_dirs, tmp_path, capsys):
    audio_dir, midi_dir = eval_dirs
    sf.write(str(audio_dir / "piece.wav"), synth_notes(PIECE), 22050)
    rc = main(["evaluate", "--audio-dir", str(audio_dir), "--midi-dir", str(midi_dir), "--json",
               str(tmp_path / "ev.json")])
    assert rc == 7
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no reference piece.mid" in err[0]
