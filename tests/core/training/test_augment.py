"""Training-material augmentation: tuning by pitch bends, rooms, colouring, noise (no FluidSynth needed)."""
import numpy as np
import pretty_midi
import pytest

from unmf_core.training import augment as aug_mod
from unmf_core.transcription.notes import Note

SR = 22050


def test_tuning_curve_is_stretched_and_offset():
    aug = aug_mod.Augmentation(offset_cents=5.0, bass_cents=-30.0, treble_cents=15.0)
    c = aug_mod.tuning_cents(np.array([21, 60, 108]), aug)
    assert c == pytest.approx([-25.0, 5.0, 20.0])
    assert np.all(np.diff(aug_mod.tuning_cents(np.arange(21, 109), aug)) >= 0)  # monotone: flat bass, sharp treble


def test_tuned_midi_keeps_the_notes_and_bends_each_band(tmp_path):
    aug = aug_mod.Augmentation(offset_cents=10.0, bass_cents=-30.0, treble_cents=15.0)
    notes = [Note(p, 0.1 * i, 0.1 * i + 0.5, 64) for i, p in enumerate(range(21, 109, 3))]
    path = tmp_path / "t.mid"
    aug_mod.write_tuned_midi(notes, path, program=1, aug=aug)
    pm = pretty_midi.PrettyMIDI(str(path))
    got = sorted((n.pitch, round(n.start, 3)) for inst in pm.instruments for n in inst.notes)
    assert got == sorted((n.pitch, round(n.onset, 3)) for n in notes)
    assert {inst.program for inst in pm.instruments} == {1}
    for inst in pm.instruments:
        if not inst.notes:
            continue
        bend_cents = inst.pitch_bends[0].pitch / 8192 * aug_mod.BEND_RANGE_CENTS
        for n in inst.notes:  # every key within a few cents of its curve
            assert abs(bend_cents - float(aug_mod.tuning_cents(n.pitch, aug))) < 4.0


def test_room_ir_decays_at_its_rt60():
    rng = np.random.default_rng(0)
    ir = aug_mod.room_ir(rng, SR, 1.0)
    assert ir[0] >= 0.5
    tail = ir[int(0.05 * SR):]  # the reverberant tail, after the direct sound and early reflections
    energy = np.cumsum(tail[::-1] ** 2)[::-1]  # Schroeder integral
    db = 10 * np.log10(energy / energy[0])
    t_40 = np.argmax(db < -40) / SR
    assert 0.5 < t_40 < 0.8  # -40 dB after two thirds of RT60 (bands decay in 0.6-1.2 RT60)


def test_apply_adds_the_room_tail_colour_and_noise():
    rng = np.random.default_rng(1)
    t = np.arange(SR) / SR
    y = (np.sin(2 * np.pi * 440 * t) * (t < 0.5)).astype(np.float32)
    out = aug_mod.apply(y, rng, SR, aug_mod.Augmentation(rt60=0.8))
    assert len(out) == len(y) + int(0.8 * SR)
    assert np.abs(out[int(0.6 * SR):int(0.7 * SR)]).max() > 1e-3  # reverberation after the tone stopped
    coloured = aug_mod.colour(y.astype(np.float64), rng, SR, 6.0)
    ratio = np.abs(np.fft.rfft(coloured)).max() / np.abs(np.fft.rfft(y)).max()
    assert 10 ** (-6.5 / 20) < ratio < 10 ** (6.5 / 20)
    noisy = aug_mod.add_noise(y.astype(np.float64), rng, 30.0)
    snr = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean((noisy - y) ** 2))
    assert snr == pytest.approx(30.0, abs=0.1)


def test_draw_is_reproducible_and_within_ranges():
    a, b = aug_mod.draw(np.random.default_rng(7)), aug_mod.draw(np.random.default_rng(7))
    assert a == b
    augs = [aug_mod.draw(np.random.default_rng(i)) for i in range(200)]
    assert all(-20 <= x.offset_cents <= 20 and -30 <= x.bass_cents <= 0 <= x.treble_cents <= 15 for x in augs)
    rooms = [x.rt60 for x in augs if x.rt60]
    assert 0.3 <= min(rooms) and max(rooms) <= 2.0 and 60 < len(rooms) < 140
