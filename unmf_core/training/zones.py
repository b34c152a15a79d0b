"""Zone-shifted pianos: a SoundFont's piano whose sound changes from zone to zone of keys, as a sampled grand's does.

A sampled piano plays each key from one of a few recorded samples, transposed; where it changes samples its
spectrum changes (MuseScore_General's E3-G3 zone: a second partial stronger than the fundamental), and a calibration
from one note an octave cannot see that. Rendering a SoundFont's piano with every key k sounding key k + d(k) bent
down by d(k) semitones (MIDI pitch bend), d constant over random zones of 3-6 keys (:func:`zone_offsets`), makes
such an instrument from the SoundFonts the project may train on: neighbouring keys sound samples transposed by
different amounts. :func:`write_zone_midi` writes the MIDI that plays it. Used for the gate's material
(``scripts/train_gate.py``) and the calibration benchmark's validation source (``benchmarks.calibration``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: The transpositions (semitones); each one is a MIDI channel with its own pitch bend.
ZONE_SHIFTS = (-6, -4, -2, 0, 2, 4, 6)


def zone_offsets(seed: int, n_keys: int = 88) -> np.ndarray:
    """``(n_keys,)`` int: each key's transposition d (one of :data:`ZONE_SHIFTS`), constant over zones of 3-6 keys."""
    rng = np.random.default_rng(seed)
    d = np.zeros(n_keys, dtype=int)
    k = 0
    while k < n_keys:
        width = int(rng.integers(3, 7))
        d[k:k + width] = ZONE_SHIFTS[int(rng.integers(len(ZONE_SHIFTS)))]
        k += width
    return d


def write_zone_midi(notes, path: str | Path, offsets: np.ndarray, program: int = 0) -> None:
    """Write ``notes`` so that key k sounds MIDI note k + d bent down by d semitones (d = ``offsets[k - 21]``).

    One instrument (MIDI channel) per transposition, its pitch-bend range set to 12 semitones (RPN 0) and its
    bend held from 0.1 s on: the first note must start after that.
    """
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    channels = {}
    for d in ZONE_SHIFTS:
        inst = pretty_midi.Instrument(program=program)
        for i, (number, value) in enumerate(((101, 0), (100, 0), (6, 12), (38, 0))):
            inst.control_changes.append(pretty_midi.ControlChange(number, value, 0.01 * i))
        inst.pitch_bends.append(pretty_midi.PitchBend(int(round(-d / 12 * 8191)), 0.1))
        channels[d] = inst
        pm.instruments.append(inst)
    for n in notes:
        d = int(offsets[n.pitch - 21])
        channels[d].notes.append(pretty_midi.Note(int(n.velocity), int(n.pitch) + d, float(n.onset), float(n.offset)))
    pm.write(str(path))
