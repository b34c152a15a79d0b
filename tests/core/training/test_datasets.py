"""Pairs from folders, the CQT disk cache, crops, and the generated training material."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import synth_notes
from unmf_core.frontend.audio import save_audio
from unmf_core.frontend.cqt import CQTParams
from unmf_core.training.datasets import CQTCache, PairDataset, find_pairs, load_examples
from unmf_core.errors import AudioError, DataError
from unmf_core.transcription.notes import Note, write_midi
from unmf_core.training.synthdata import random_piece


def _pair(folder, stem, notes=((60, 0.2, 1.0), (64, 1.2, 2.0)), midi_folder=None, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    (midi_folder or folder).mkdir(parents=True, exist_ok=True)
    save_audio(folder / f"{stem}.wav", synth_notes(list(notes), seed=seed), 22050)
    write_midi([Note(p, a, b) for p, a, b in notes], (midi_folder or folder) / f"{stem}.mid")


def test_pairs_in_both_layouts_and_maps(tmp_path):
    _pair(tmp_path / "a" / "audio", "x", midi_folder=tmp_path / "a" / "midi")
    _pair(tmp_path / "a" / "audio", "y", midi_folder=tmp_path / "a" / "midi")
    assert [(a.name, m.name) for a, m in find_pairs(tmp_path / "a")] == [("x.wav", "x.mid"), ("y.wav", "y.mid")]
    _pair(tmp_path / "maps", "MAPS_MUS-x")
    (tmp_path / "maps" / "MAPS_MUS-x.txt").write_text("OnsetTime\tOffsetTime\tMidiPitch\n")
    assert [a.name for a, _ in find_pairs(tmp_path / "maps")] == ["MAPS_MUS-x.wav"]


def test_unpaired_and_missing_are_clear_errors(tmp_path):
    _pair(tmp_path, "x")
    save_audio(tmp_path / "lonely.wav", synth_notes([(60, 0.1, 0.5)]), 22050)
    with pytest.raises(DataError, match="audio without MIDI: lonely.wav"):
        find_pairs(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        find_pairs(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no \\(audio, MIDI\\) pairs"):
        find_pairs(tmp_path / "empty")


def test_unreadable_audio_is_named(tmp_path):
    _pair(tmp_path, "x")
    (tmp_path / "x.wav").write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match="x.wav"):
        load_examples(find_pairs(tmp_path), CQTCache(tmp_path / "cache"))


def test_cache_keyed_by_content_and_parameters(tmp_path):
    _pair(tmp_path / "d", "x")
    wav = tmp_path / "d" / "x.wav"
    cache = CQTCache(tmp_path / "cache")
    M = cache.get(wav)
    entry = cache.path_for(wav)
    assert entry.is_file() and M.shape[0] == 288
    np.save(entry, np.full_like(M, 7.0))  # a cached value is returned as is: proves the cache is read
    assert float(cache.get(wav).max()) == 7.0
    other = CQTCache(tmp_path / "cache", CQTParams(hop=512))
    assert other.path_for(wav) != entry
    _pair(tmp_path / "d", "x", notes=((62, 0.2, 1.0),), seed=3)  # new content, new key
    assert cache.path_for(wav) != entry
    entry2 = cache.path_for(wav)
    entry2.parent.mkdir(exist_ok=True)
    entry2.write_bytes(b"damaged")
    assert cache.get(wav).shape[0] == 288  # a damaged entry is recomputed


def test_crops_and_whole_files(tmp_path):
    _pair(tmp_path, "x")
    ex = load_examples(find_pairs(tmp_path), CQTCache(tmp_path / "c"))
    T = ex[0].M.shape[1]
    fr = CQTParams().frame_rate
    ds = PairDataset(ex, fr, crop=40, crops_per_file=3, n_templates=2)
    assert len(ds) == 3
    M, roll, ons, k = ds[0]
    assert M.shape == (288, 40) and roll.shape == (88, 40) and ons.shape == (88, 40) and k in (0, 1)
    long = PairDataset(ex, fr, crop=T + 10)[0]
    assert long[0].shape == (288, T + 10) and float(long[0][:, T:].abs().sum()) == 0.0
    M, roll, ons, _ = PairDataset(ex, fr)[0]
    assert M.shape[1] == T
    assert roll[60 - 21].sum() > 0 and roll[64 - 21].sum() > 0 and roll[70 - 21].sum() == 0
    assert ons[60 - 21, int(round(0.2 * fr))] == 1


def test_random_pieces_are_reproducible_and_in_range():
    a = random_piece(np.random.default_rng(5), 15.0)
    b = random_piece(np.random.default_rng(5), 15.0)
    assert a == b and len(a) > 20
    assert all(21 <= n.pitch <= 108 and n.offset > n.onset for n in a)
    starts = np.array([n.onset for n in a])
    assert max(np.sum(np.abs(starts - s) < 1e-6) for s in starts) >= 3  # chords: simultaneous onsets


def test_a_rendered_piece_gets_its_own_instruments_templates_half_the_time(tmp_path):
    from dataclasses import replace

    from unmf_core.transcription.notes import Note, midi_program, write_midi

    write_midi([Note(60, 0.1, 0.5, 80)], tmp_path / "p.mid", program=3)
    assert midi_program(tmp_path / "p.mid") == 3
    (tmp_path / "junk.mid").write_bytes(b"not midi")
    assert midi_program(tmp_path / "junk.mid") is None
    _pair(tmp_path / "d", "x")
    ex = load_examples(find_pairs(tmp_path / "d"), CQTCache(tmp_path / "c"))
    ds = PairDataset([replace(ex[0], template=4)], CQTParams().frame_rate, crop=20, crops_per_file=400,
                     n_templates=6)
    ks = [ds[i][3] for i in range(len(ds))]
    own = ks.count(4) / len(ks)
    assert 0.5 < own < 0.65  # 1/2 by choice + 1/12 by the random draw
    assert set(ks) == set(range(6))
