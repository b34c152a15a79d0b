import numpy as np

from unmf_core.training.synthdata import GATE_SEGMENTS, _accompaniment, random_piece


def test_accompaniment_strikes_a_chord_again_over_a_low_bass():
    notes, end = _accompaniment(np.random.default_rng(3), 0.2, 0.5, 33, 90)
    assert end > 0.2 + 2 * 4 * 0.5 - 1e-9  # at least two 4-beat bars
    assert all(21 <= n.pitch <= 108 and n.offset > n.onset for n in notes)
    bars = {}
    for n in notes:
        bars.setdefault(int((n.onset - 0.2) // 2.0 + 1e-9), []).append(n)
    for bar in bars.values():
        bass = min(bar, key=lambda n: n.pitch)
        chord = [n for n in bar if n is not bass]
        assert min(n.pitch for n in chord) - bass.pitch >= 18  # 1.5 octaves or more under the chord
        assert bass.offset - bass.onset > 1.0  # held through most of the bar
        onsets = sorted({round(n.onset, 6) for n in chord})
        assert len(onsets) >= 3  # the same chord struck again on a rhythm
        assert len(chord) == len(onsets) * len({n.pitch for n in chord})


def test_gate_material_contains_accompaniment():
    assert _accompaniment in GATE_SEGMENTS
    a = random_piece(np.random.default_rng(7), 60.0, GATE_SEGMENTS)
    assert a == random_piece(np.random.default_rng(7), 60.0, GATE_SEGMENTS)


def _fake_renderer(calls):
    """render_midi's stand-in (no FluidSynth on CI): a click at each note's onset; records the MIDI it played."""
    import pretty_midi

    def render(path, sr=22050, soundfont=None, gain=0.5):
        pm = pretty_midi.PrettyMIDI(str(path))
        calls.append(pm)
        y = np.zeros(int((pm.get_end_time() + 1.0) * sr), np.float32)
        for inst in pm.instruments:
            for n in inst.notes:
                y[int(round(n.start * sr))] = 1.0
        return y
    return render


def test_zone_pieces_play_each_key_as_its_piano_s_neighbour_and_keep_the_true_notes(tmp_path, monkeypatch):
    from unmf_core.training import render, synthdata
    from unmf_core.training.zones import zone_offsets
    from unmf_core.transcription.notes import read_midi

    calls = []
    monkeypatch.setattr(render, "render_midi", _fake_renderer(calls))
    synthdata.make_dataset(tmp_path, 2, duration=4.0, seed=3, soundfonts=("a.sf2",), augment=True, zones=True)
    manifest = synthdata.read_manifest(tmp_path)
    assert len(manifest) == 2 and len({m["zones"] for m in manifest.values()}) == 2
    for (name, m), pm in zip(sorted(manifest.items()), calls):
        aug = m["augmentation"]
        assert aug["offset_cents"] == aug["bass_cents"] == aug["treble_cents"] == 0.0  # the zones hold the bends
        truth = read_midi(tmp_path / "midi" / f"{name}.mid")
        d = zone_offsets(m["zones"])
        played = sorted((round(n.start, 3), n.pitch - round(-inst.pitch_bends[0].pitch / 8191 * 12))
                        for inst in pm.instruments for n in inst.notes)
        assert played == sorted((round(n.onset, 3), n.pitch) for n in truth)  # bent back: the true keys
        assert all(any(n.pitch == t.pitch + d[t.pitch - 21] for inst in pm.instruments for n in inst.notes)
                   for t in truth)
        assert (tmp_path / "audio" / f"{name}.wav").is_file()


def test_plain_pieces_are_rendered_from_their_own_midi(tmp_path, monkeypatch):
    from unmf_core.training import render, synthdata

    calls = []
    monkeypatch.setattr(render, "render_midi", _fake_renderer(calls))
    synthdata.make_dataset(tmp_path, 1, duration=4.0, seed=3, soundfonts=("a.sf2",))
    assert "zones" not in synthdata.read_manifest(tmp_path)["piece-0000"]
    assert len(calls[0].instruments) == 1 and not calls[0].instruments[0].pitch_bends


def test_render_keys_writes_one_file_per_key_with_its_note_0_1_s_in(tmp_path, monkeypatch):
    import soundfile as sf

    from unmf_core.training import render, synthdata
    from unmf_core.training.zones import zone_offsets

    for zones in (None, zone_offsets(4)):
        calls = []
        monkeypatch.setattr(render, "render_midi", _fake_renderer(calls))
        out = synthdata.render_keys(tmp_path / str(zones is None), [24, 60, 108], sr=8000, zones=zones)
        assert sorted(p.name for p in out.iterdir()) == ["C1.wav", "C4.wav", "C8.wav"]
        for name in ("C1", "C4", "C8"):
            y, sr = sf.read(out / f"{name}.wav")
            assert sr == 8000 and len(y) == 20000 and np.flatnonzero(y).tolist() == [800]
        pitches = sorted(n.pitch for inst in calls[0].instruments for n in inst.notes)
        assert pitches == ([24, 60, 108] if zones is None else sorted(p + zones[p - 21] for p in (24, 60, 108)))
