"""Calibration: templates from a few notes, one recording of single notes, or a recording with its MIDI."""
import numpy as np
import pytest
import soundfile as sf

from tests.conftest import synth_notes
from unmf_core.calibration import Calibration, build_from_folder, calibrate, load_templates
from unmf_core.calibration.adapt import adapt
from unmf_core.cli import main
from unmf_core.frontend.cqt import CQTParams, key_names
from unmf_core.errors import TemplateError
from unmf_core.transcription.notes import Note, write_midi
from unmf_core.transcription.templates import harmonic_templates, read_templates

P = CQTParams()
NAMES = key_names()
pytestmark = pytest.mark.usefixtures("one_thread")


def _note_folder(folder, pitches):
    folder.mkdir(exist_ok=True)
    for p in pitches:
        sf.write(folder / f"{NAMES[p - 21]}.wav", synth_notes([(p, 0.1, 1.0)], sr=P.sr, duration=1.2), P.sr)
    return folder


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_folder_with_one_note(tmp_path):
    cal = calibrate(_note_folder(tmp_path / "n", [60]))
    assert isinstance(cal, Calibration) and cal.method == "notes-folder"
    assert list(cal.recorded) == [60] and 0.0 <= cal.recorded[60] <= 1.0
    W = cal.templates.W
    assert W.shape == (288, 88) and np.all(np.isfinite(W)) and np.allclose(np.linalg.norm(W, axis=0), 1, atol=1e-5)
    # every key's template peaks at its own fundamental, from the one recorded timbre
    assert [int(np.argmax(W[:, k])) for k in range(30, 70)] == [3 * k for k in range(30, 70)]
    assert len(cal.templates.filled) == 87 and "C4" not in cal.templates.filled


def test_folder_with_eight_notes_predicts_the_others(tmp_path):
    """Keys between recorded ones look like the instrument that was recorded, not like the base."""
    cs = [24, 36, 48, 60, 72, 84, 96, 108]
    base = harmonic_templates(P, n_partials=3, decay=0.2)  # a timbre quite unlike synth_notes'
    folder = _note_folder(tmp_path / "n", cs)
    cal = calibrate(folder, base=base, mix=False)
    assert sorted(cal.recorded) == cs and cal.skipped == []
    truth = calibrate(_note_folder(tmp_path / "all", [54, 66]), base=base, mix=False).templates.W
    mixed = calibrate(folder, base=base).templates.W
    for p in (54, 66):
        k = p - 21
        assert _cos(cal.templates.W[:, k], truth[:, k]) > 0.95 > _cos(base.W[:, k], truth[:, k]) + 0.05
        # the default mixes the prediction with the base: between the two, nearer the prediction
        assert _cos(base.W[:, k], truth[:, k]) + 0.02 < _cos(mixed[:, k], truth[:, k]) < _cos(
            cal.templates.W[:, k], truth[:, k])
    # recorded keys fit their neighbours' prediction (the same synthetic instrument)
    assert min(v for p, v in cal.recorded.items() if 36 <= p <= 96) > 0.8
    assert cal.templates.meta["mixed"] is False and "mixed with the base" in calibrate(folder).templates.source


def test_adapt_keeps_recorded_columns_unmixed_and_needs_one():
    base = harmonic_templates(P).W.astype(float)
    col = np.roll(base[:, 40], 0) * np.linspace(1, 0.2, 288)
    W = adapt(base, {40: col}, mix=False)
    assert _cos(W[:, 40], col) > 0.9999
    with pytest.raises(TemplateError, match="no recorded"):
        adapt(base, {})
    with pytest.raises(TemplateError, match="recorded key 88"):
        adapt(base, {88: col})
    with pytest.raises(TemplateError, match="recorded key 40"):
        adapt(base, {40: col[:100]})


def test_adapt_mixes_own_and_predicted_templates_with_the_base():
    from unmf_core.calibration.adapt import (PREDICTED_WEIGHT, REACH, RECORDED_WEIGHT, interpolate_templates,
                                             mix_weights)

    base = harmonic_templates(P).W.astype(float)
    rec = {k: base[:, k] * np.linspace(1, 0.1, 288) for k in (30, 50)}
    w = mix_weights(rec)
    assert w[30] == w[50] == RECORDED_WEIGHT and np.all(w[31:50] == PREDICTED_WEIGHT)
    assert np.isclose(w[20], PREDICTED_WEIGHT * np.exp(-10 / REACH)) and w[87] < 0.01 and w[29] > w[20]
    own = interpolate_templates(base, rec)
    W = adapt(base, rec)
    for k in (0, 30, 40, 87):
        ref = (1 - w[k]) * base[:, k] / np.linalg.norm(base[:, k]) + w[k] * own[:, k]
        assert np.allclose(W[:, k], ref / np.linalg.norm(ref), atol=1e-6)
    assert _cos(W[:, 30], rec[30]) < 0.999  # a recorded key is mixed too
    with pytest.raises(TemplateError, match="at least one recorded key"):
        mix_weights([])
    assert np.allclose(np.linalg.norm(W, axis=0), 1, atol=1e-5) and W.dtype == np.float32


def test_a_preset_keeps_its_own_templates_unmixed(tmp_path):
    """What training uses (synthdata.make_templates): every key recorded, nothing mixed in."""
    cs = [48, 60, 72]
    t = build_from_folder(_note_folder(tmp_path / "n", cs), P, mix=False)
    mixed = build_from_folder(tmp_path / "n", P)
    for p in cs:
        own = calibrate(tmp_path / "n", mix=False).templates.W[:, p - 21]
        assert np.allclose(t.W[:, p - 21], own) and _cos(mixed.W[:, p - 21], own) < 0.9999


def test_single_notes_recording_detects_pitches_and_skips_a_chord(tmp_path):
    seq = [(55, 0.2, 0.9), (62, 1.2, 1.9), (48, 2.2, 2.9), (70, 3.2, 3.9)]
    chord = [(60, 4.4, 5.2), (64, 4.4, 5.2), (67, 4.4, 5.2)]
    y = synth_notes(seq + chord + [(57, 5.6, 6.3)], sr=P.sr, duration=6.8)
    sf.write(tmp_path / "take.wav", y, P.sr)
    cal = calibrate(tmp_path / "take.wav")
    assert cal.method == "single-notes-recording"
    assert sorted(cal.recorded) == [48, 55, 57, 62, 70]
    assert any("chord" in s and s.startswith("4.") for s in cal.skipped), cal.skipped
    assert cal.templates.meta["recorded"].keys() == {"C3", "G3", "A3", "D4", "A#4"}


def test_recording_with_midi_learns_the_played_keys(tmp_path):
    notes = [Note(p, 0.2 + 0.6 * i, 0.7 + 0.6 * i, 80) for i, p in enumerate([48, 52, 55, 60, 52, 48])]
    notes += [Note(64, 4.0, 4.6, 80), Note(67, 4.0, 4.6, 80)]  # only struck together: nothing to learn from
    y = synth_notes([(n.pitch, n.onset, n.offset) for n in notes], sr=P.sr, duration=5.0)
    sf.write(tmp_path / "piece.wav", y, P.sr)
    write_midi(notes, tmp_path / "piece.mid")
    cal = calibrate(tmp_path / "piece.wav", midi=tmp_path / "piece.mid")
    assert cal.method == "recording+midi" and sorted(cal.recorded) == [48, 52, 55, 60, 64, 67]
    assert cal.skipped == []
    W = calibrate(tmp_path / "piece.wav", midi=tmp_path / "piece.mid", mix=False).templates.W
    for p in (48, 52, 55, 60, 64, 67):
        assert int(np.argmax(W[:, p - 21])) in range(3 * (p - 21) - 1, 3 * (p - 21) + 2)
    # the chord's two keys are split: each keeps its own partials, not the other's fundamental
    for p, other in ((64, 67), (67, 64)):
        col = W[:, p - 21]
        assert col[3 * (other - 21)] < 0.2 * col[3 * (p - 21)]


def test_recording_with_midi_skips_an_attack_unlike_its_key(tmp_path):
    """A note whose attack is not its key's (a wrong MIDI note, a masked attack) is listed and predicted instead."""
    from unmf_core.calibration.material import MIN_LIKENESS

    played = [48, 52, 62, 60]  # the MIDI says G3 (55) where the recording plays D4
    notes = [Note(p, 0.2 + 0.6 * i, 0.7 + 0.6 * i, 80) for i, p in enumerate([48, 52, 55, 60])]
    y = synth_notes([(q, n.onset, n.offset) for q, n in zip(played, notes)], sr=P.sr, duration=3.0)
    sf.write(tmp_path / "piece.wav", y, P.sr)
    write_midi(notes, tmp_path / "piece.mid")
    cal = calibrate(tmp_path / "piece.wav", midi=tmp_path / "piece.mid")
    assert sorted(cal.recorded) == [48, 52, 60]
    assert len(cal.skipped) == 1, cal.skipped
    assert cal.skipped[0].startswith("G3: its attack does not sound like that key")
    assert f"under {MIN_LIKENESS}" in cal.skipped[0] and "G3" in cal.templates.filled


def test_a_midi_file_of_another_piece_is_refused_with_the_reason(tmp_path):
    notes = [Note(p, 0.2 + 0.6 * i, 0.7 + 0.6 * i, 80) for i, p in enumerate([48, 52, 55, 60])]
    y = synth_notes([(n.pitch, n.onset, n.offset) for n in notes], sr=P.sr, duration=3.0)
    sf.write(tmp_path / "piece.wav", y, P.sr)
    write_midi([Note(n.pitch + 6, n.onset, n.offset, 80) for n in notes], tmp_path / "other.mid")  # a tritone off
    with pytest.raises(TemplateError, match=r"piece.wav: no note of other.mid could be learned; is it this "
                                            r"recording's MIDI.*F#3: its attack does not sound like that key"):
        calibrate(tmp_path / "piece.wav", midi=tmp_path / "other.mid")


def test_advice_when_the_low_register_is_only_extrapolated_or_few_keys_were_recorded():
    t = harmonic_templates(P)
    assert Calibration(t, {p: 1.0 for p in range(36, 61)}).advice() is None  # a scale C2-C4: 25 keys
    assert Calibration(t, {p: 1.0 for p in range(48, 73)}).advice() is None  # C3-C5: low enough
    few = "more recorded keys calibrate better: a slow chromatic scale of two octaves or more from C2 or C3 scored best"
    assert Calibration(t, {24: 1.0, 60: 0.9}).advice() == few
    high = Calibration(t, {p: 1.0 for p in range(60, 85)})
    assert high.advice() == ("the keys below C4 are only extrapolated from the recorded ones; "
                             "record some notes at C3 or lower too")
    assert high.summary().splitlines()[-1] == f"note: {high.advice()}"
    both = Calibration(t, {60: 1.0, 72: 0.9, 84: 0.9}).advice()
    assert both == f"{high.advice()}; {few}"


def test_an_attack_stops_before_the_next_onset():
    """A low note struck 0.4 s after a high one reaches the CQT's long bass windows before its onset."""
    from unmf_core.calibration.material import learn_from_midi
    from unmf_core.frontend.cqt import compute_cqt

    notes = [Note(67, 1.1, 1.9, 80), Note(72, 1.6, 2.5, 80), Note(55, 2.0, 2.8, 80)]
    y = synth_notes([(n.pitch, n.onset, n.offset) for n in notes], sr=P.sr, duration=3.2)
    C = compute_cqt(y, P, "cpu").numpy().astype(np.float64)
    cols, _ = learn_from_midi(C, notes, P)
    c5 = cols[72 - 21]
    assert int(np.argmax(c5)) in range(3 * (72 - 21) - 1, 3 * (72 - 21) + 2)
    assert c5[3 * (55 - 21)] < 0.2 * c5.max()  # not G3's fundamental


def test_an_attack_spectrum_is_the_mean_over_its_span_from_the_peak():
    """The loudest frame and the frames after it within ATTACK_SPAN, less the quietest frame before the onset."""
    from unmf_core.calibration.material import ATTACK_SPAN, _attack

    fr = 100.0
    span = round(ATTACK_SPAN * fr)  # 6 frames at 100 frames a second
    rng = np.random.default_rng(0)
    C = np.full((4, 60), 0.1)
    C[:, 20:] += rng.uniform(0.5, 1.0, (4, 40)) * np.linspace(2.0, 1.0, 40)  # struck at 20, decaying
    energy = C.sum(axis=0)
    v, peak = _attack(C, energy, 20, 0, 60, fr)
    assert peak == int(np.argmax(energy[10:50])) + 10
    np.testing.assert_allclose(v, C[:, peak:peak + span].mean(axis=1) - 0.1)
    # never past the next onset's margin: with the next onset 3 frames after the peak, fewer frames count
    v2, peak2 = _attack(C, energy, 20, 0, peak + 3 + 3, fr)
    assert peak2 == peak
    np.testing.assert_allclose(v2, C[:, peak:peak + 3].mean(axis=1) - 0.1)


def test_recording_with_midi_without_base_skips_chords():
    from unmf_core.calibration.material import learn_from_midi
    from unmf_core.frontend.cqt import compute_cqt

    notes = [Note(48, 0.2, 0.8, 80), Note(64, 1.0, 1.6, 80), Note(67, 1.0, 1.6, 80)]
    y = synth_notes([(n.pitch, n.onset, n.offset) for n in notes], sr=P.sr, duration=2.0)
    C = compute_cqt(y, P, "cpu").numpy().astype(np.float64)
    cols, skipped = learn_from_midi(C, notes, P)
    assert sorted(cols) == [27] and [s[:3] for s in skipped] == ["E4:", "G4:"] and "apart" in skipped[0]
    cols, skipped = learn_from_midi(C, notes, P, base=harmonic_templates(P).W)
    assert sorted(cols) == [27, 43, 46] and skipped == []
    with pytest.raises(TemplateError, match="apart > 0"):
        learn_from_midi(C, notes, P, apart=0.0)


@pytest.mark.parametrize("kind", ["silence", "noise", "chord"])
def test_bad_recordings_raise_a_clear_error(tmp_path, kind):
    rng = np.random.default_rng(1)
    if kind == "silence":
        y = np.zeros(P.sr * 2, dtype=np.float32)
    elif kind == "noise":
        y = (0.2 * rng.standard_normal(P.sr * 3)).astype(np.float32)
    else:
        y = synth_notes([(60, 0.3, 1.5), (64, 0.3, 1.5), (67, 0.3, 1.5)], sr=P.sr, duration=2.0)
    sf.write(tmp_path / "bad.wav", y, P.sr)
    with pytest.raises(TemplateError, match="bad.wav") as exc:
        calibrate(tmp_path / "bad.wav")
    assert {"silence": "silent", "noise": "no clear single notes", "chord": "chord"}[kind] in str(exc.value)


def test_midi_without_notes_in_the_recording_is_refused(tmp_path):
    sf.write(tmp_path / "a.wav", synth_notes([(60, 0.1, 0.8)], sr=P.sr, duration=1.0), P.sr)
    write_midi([Note(60, 30.0, 31.0, 80)], tmp_path / "late.mid")
    with pytest.raises(TemplateError, match="no notes inside"):
        calibrate(tmp_path / "a.wav", midi=tmp_path / "late.mid")


def test_metadata_round_trip(tmp_path):
    cal = calibrate(_note_folder(tmp_path / "n", [48, 72]))
    cal.templates.save(tmp_path / "cal.npz")
    t = load_templates(tmp_path / "cal.npz", P)
    assert np.allclose(t.W, cal.templates.W)
    assert t.meta["method"] == "notes-folder" and t.meta["source"] == str(tmp_path / "n")
    assert t.meta["recorded"] == {"C3": cal.recorded[48], "C5": cal.recorded[72]}
    assert t.filled == cal.templates.filled and len(t.filled) == 86
    # files written before calibration existed have no metadata and still load
    old = harmonic_templates(P)
    np.savez(tmp_path / "old.npz", W=old.W, cqt=np.array(__import__("json").dumps(P.to_dict())))
    assert load_templates(tmp_path / "old.npz", P).meta == {}


def test_cli_recording_and_bad_recording(tmp_path, capsys):
    y = synth_notes([(50, 0.2, 0.9), (62, 1.2, 1.9), (74, 2.2, 2.9)], sr=P.sr, duration=3.3)
    sf.write(tmp_path / "notes.wav", y, P.sr)
    assert main(["templates", str(tmp_path / "notes.wav"), "-o", str(tmp_path / "w.npz")]) == 0
    out = capsys.readouterr().out
    assert "3 keys recorded (single-notes-recording)" in out and "D3 " in out and "D5 " in out
    assert load_templates(tmp_path / "w.npz", P).meta["recorded"].keys() == {"D3", "D4", "D5"}
    sf.write(tmp_path / "quiet.wav", np.zeros(P.sr, dtype=np.float32), P.sr)
    assert main(["templates", str(tmp_path / "quiet.wav"), "-o", str(tmp_path / "q.npz")]) == 4
    err = capsys.readouterr().err.strip()
    assert err.startswith("unmf: error: quiet.wav") and "\n" not in err and not (tmp_path / "q.npz").exists()


def test_interpolate_keys_is_np_interp_row_by_row():
    from unmf_core.calibration.adapt import interpolate_keys

    rng = np.random.default_rng(0)
    R = rng.standard_normal((60, 88))
    R[rng.random(R.shape) < 0.9] = np.nan
    R[5] = np.nan
    keys = np.arange(88)
    ref = np.full_like(R, -1.0)
    for j, row in enumerate(R):
        ok = np.isfinite(row)
        if ok.any():
            ref[j] = np.interp(keys, keys[ok], row[ok])
    assert np.allclose(interpolate_keys(R, fill=-1.0), ref)


def test_audio_object_at_another_rate_is_accepted():
    """What the app's microphone stream hands over: samples in memory, at the device's rate."""
    from unmf_core.frontend.audio import Audio

    y = synth_notes([(52, 0.2, 0.9), (64, 1.2, 1.9)], sr=44100, duration=2.3)
    cal = calibrate(Audio(y, 44100))
    assert sorted(cal.recorded) == [52, 64] and cal.templates.meta["source"] == "a recording"


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


def test_load_templates_takes_a_file_or_a_folder(tmp_path):
    harmonic_templates(P).save(tmp_path / "w.npz")
    np.testing.assert_array_equal(load_templates(tmp_path / "w.npz", P).W, read_templates(tmp_path / "w.npz", P).W)
    with pytest.raises(TemplateError, match="no such templates file or folder"):
        load_templates(tmp_path / "missing")
    (tmp_path / "notes").mkdir()
    with pytest.raises(TemplateError, match="no recordings named after piano keys"):
        load_templates(tmp_path / "notes")
