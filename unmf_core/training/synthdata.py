"""Training material the project makes itself: random piano music rendered with FluidSynth.

Every piece is a random sequence of musical segments — block chords, scales,
arpeggios and free polyphonic passages (melody over a bass with overlapping
inner voices) — with random key, tempo and velocities, no pedal. It is written
as ``midi/NAME.mid`` and rendered with :func:`unmf_core.training.render.render_midi`
(Debian's FluidSynth and a GM SoundFont drawn per piece from those given) to
``audio/NAME.wav``, the folder layout :mod:`unmf_core.training.datasets` reads,
optionally altered as a real recording would be (:mod:`unmf_core.training.augment`);
``manifest.json`` records each piece's SoundFont, program and augmentation.
Anyone with the same Debian packages regenerates exactly the same files from the
same seed.

:func:`make_templates` renders the 88 keys of a GM program one at a time and
analyses them like a user's folder of single-note recordings.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..frontend.cqt import CQTParams, key_names
from ..transcription.notes import Note, write_midi

#: General MIDI programs used by default: acoustic grand, bright acoustic,
#: electric grand, honky-tonk, electric pianos 1 and 2.
PROGRAMS = (0, 0, 0, 1, 2, 3, 4, 5)

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_CHORDS = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 11), (0, 3, 7, 10), (0, 4, 7, 10), (0, 3, 6), (0, 5, 7), (0, 4, 8))


def _scale_pitches(rng: np.random.Generator, lo: int, hi: int) -> np.ndarray:
    root = int(rng.integers(0, 12))
    steps = _MAJOR if rng.random() < 0.6 else _MINOR
    return np.array([p for p in range(lo, hi + 1) if (p - root) % 12 in steps])


def _vel(rng: np.random.Generator, base: float) -> int:
    return int(np.clip(rng.normal(base, 12), 25, 120))


def _chords(rng, t, beat, lo, hi):
    notes = []
    for _ in range(int(rng.integers(3, 7))):
        root = int(rng.integers(lo, max(lo + 1, hi - 14)))
        shape = _CHORDS[int(rng.integers(len(_CHORDS)))]
        pitches = {root + s for s in shape}
        if rng.random() < 0.5:
            pitches.add(root - 12 if root - 12 >= 21 else root + 12)
        length = beat * float(rng.choice([1, 2, 2, 3, 4]))
        base = rng.uniform(45, 105)
        for p in sorted(pitches):
            notes.append(Note(p, t, t + length * rng.uniform(0.6, 0.98), _vel(rng, base)))
        t += length
    return notes, t


def _scale_run(rng, t, beat, lo, hi):
    pitches = _scale_pitches(rng, lo, hi)
    n = int(rng.integers(6, min(20, len(pitches)) + 1)) if len(pitches) >= 6 else len(pitches)
    start = int(rng.integers(0, max(1, len(pitches) - n + 1)))
    run = pitches[start:start + n]
    if rng.random() < 0.5:
        run = run[::-1]
    step = beat * float(rng.choice([0.25, 0.5, 0.5, 1.0]))
    base = rng.uniform(45, 105)
    notes = [Note(int(p), t + i * step, t + i * step + step * rng.uniform(0.7, 1.5), _vel(rng, base))
             for i, p in enumerate(run)]
    return notes, t + len(run) * step


def _arpeggio(rng, t, beat, lo, hi):
    notes = []
    step = beat * float(rng.choice([0.25, 0.5]))
    base = rng.uniform(45, 100)
    for _ in range(int(rng.integers(2, 5))):
        root = int(rng.integers(lo, max(lo + 1, hi - 24)))
        shape = _CHORDS[int(rng.integers(4))]
        seq = [root + s + 12 * o for o in range(2) for s in shape]
        if rng.random() < 0.5:
            seq = seq + seq[-2:0:-1]
        held = rng.random() < 0.4
        end = t + len(seq) * step
        for i, p in enumerate(seq):
            off = end if held else t + (i + 1) * step * rng.uniform(0.9, 2.0)
            notes.append(Note(int(p), t + i * step, off, _vel(rng, base)))
        t = end
    return notes, t


def _polyphony(rng, t, beat, lo, hi):
    notes = []
    length = beat * int(rng.integers(8, 17))
    mel = _scale_pitches(rng, max(lo, 55), hi)
    bass = _scale_pitches(rng, lo, min(hi, 55))
    mid = _scale_pitches(rng, max(lo, 48), min(hi, 79))
    base = rng.uniform(50, 100)
    for voice, pool, steps, vb in ((0, mel, (0.5, 1, 1, 2), 10), (1, bass, (2, 4), -5), (2, mid, (1, 1.5, 2, 3), -10)):
        if len(pool) == 0 or (voice == 2 and rng.random() < 0.3):
            continue
        u, i = t, int(rng.integers(len(pool)))
        while u < t + length:
            d = beat * float(rng.choice(steps))
            i = int(np.clip(i + rng.integers(-3, 4), 0, len(pool) - 1))
            if rng.random() > 0.1:
                off = min(t + length, u + d * rng.uniform(0.6, 1.3))
                notes.append(Note(int(pool[i]), u, off, _vel(rng, base + vb)))
            u += d
    return notes, t + length


def _repeats(rng, t, beat, lo, hi):
    """Struck again: a chord (often with its octave) or a melody note repeated 2-6 times, each held until the
    next (a key struck while it still sounds), over a moving bass."""
    notes = []
    base = rng.uniform(45, 105)
    for _ in range(int(rng.integers(2, 5))):
        root = int(rng.integers(max(lo, 36), max(max(lo, 36) + 1, hi - 14)))
        shape = _CHORDS[int(rng.integers(len(_CHORDS)))]
        pitches = {root + s for s in shape} if rng.random() < 0.6 else {root}
        if rng.random() < 0.6:
            pitches.add(root + 12 if root + 12 <= 108 else root - 12)
        step = beat * float(rng.choice([0.25, 0.5, 0.5, 1.0]))
        n = int(rng.integers(2, 7))
        bass = root - 12 * int(rng.integers(1, 3))
        for i in range(n):
            for p in sorted(pitches):
                notes.append(Note(p, t + i * step, t + (i + rng.uniform(0.6, 1.0)) * step, _vel(rng, base)))
        if bass >= 21:
            notes.append(Note(bass, t, t + n * step * rng.uniform(0.7, 1.0), _vel(rng, base)))
        t += n * step
    return notes, t


#: Rhythms of :func:`_accompaniment`'s chords: onsets in beats within a 4-beat bar.
_RHYTHMS = ((0, 1, 2, 3), (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5), (1, 2, 3), (0, 1.5, 2, 3.5), (0, 0.75, 1, 1.75, 2, 3),
            (0.5, 1, 1.5, 2.5, 3, 3.5), (0, 1, 1.5, 2, 3, 3.5))


def _accompaniment(rng, t, beat, lo, hi):
    """Block-chord accompaniment: a chord struck again on a rhythm over a bass note 1.5-4.5 octaves below it,
    held for the bar (a key struck again while it sounds, and chord notes on the bass's upper partials)."""
    notes = []
    base = rng.uniform(50, 110)
    for _ in range(int(rng.integers(2, 5))):
        root = int(rng.integers(max(lo, 52), max(max(lo, 52) + 1, min(hi, 96) - 11)))
        chord = sorted(root + s for s in _CHORDS[int(rng.integers(len(_CHORDS)))])
        for _ in range(int(rng.integers(0, len(chord)))):  # an inversion
            chord = chord[1:] + [chord[0] + 12]
        bass = root - int(rng.integers(18, 55))
        while bass < 21:
            bass += 12
        bar = 4 * beat
        notes.append(Note(bass, t, t + bar * rng.uniform(0.7, 1.0), _vel(rng, base + 5)))
        onsets = [beat * o for o in _RHYTHMS[int(rng.integers(len(_RHYTHMS)))]] + [bar]
        for a, b in zip(onsets[:-1], onsets[1:]):
            for p in chord:  # at most root + 19 ≤ 103: no key above C8
                notes.append(Note(p, t + a, t + a + (b - a) * rng.uniform(0.6, 1.0), _vel(rng, base)))
        t += bar
    return notes, t


_SEGMENTS = (_chords, _scale_run, _arpeggio, _polyphony)
#: The note gate's material (:mod:`unmf_core.training.gate`) also strikes keys again while they sound: a gate
#: that never saw it learns that a rise on a sounding key is never a note; and block chords over a low bass:
#: a gate that never saw them drops chord notes that sit on the bass's upper partials.
GATE_SEGMENTS = _SEGMENTS + (_repeats, _repeats, _accompaniment)


def random_piece(rng: np.random.Generator, duration: float = 20.0,
                 segments: tuple = _SEGMENTS) -> list[Note]:
    """Notes of one random piece about ``duration`` seconds long (pitches in A0..C8), made of ``segments``."""
    notes: list[Note] = []
    t = 0.2
    while t < duration:
        beat = 60.0 / rng.uniform(60, 160)
        wide = rng.random() < 0.25
        lo, hi = (21, 108) if wide else (int(rng.integers(33, 49)), int(rng.integers(76, 97)))
        seg = segments[int(rng.integers(len(segments)))]
        new, t = seg(rng, t, beat, lo, hi)
        notes += [n for n in new if 21 <= n.pitch <= 108 and n.offset > n.onset + 0.03]
        t += beat * float(rng.choice([0, 0.5, 1]))
    return sorted(notes, key=lambda n: (n.onset, n.pitch))


def make_dataset(out_dir: str | Path, n_pieces: int, duration: float = 20.0, seed: int = 0,
                 sr: int = 22050, programs: tuple[int, ...] = PROGRAMS, prefix: str = "piece",
                 progress=None, soundfonts: tuple[str, ...] | None = None, augment: bool = False,
                 segments: tuple = _SEGMENTS, zones: bool = False) -> list[Path]:
    """Write ``n_pieces`` random pieces as ``midi/*.mid`` and rendered ``audio/*.wav``.

    Parameters
    ----------
    out_dir : str or Path
        Destination folder (created).
    n_pieces : int
        Number of pieces.
    duration : float
        Approximate length of each piece, seconds.
    seed : int
        Random seed: the same seed gives the same pieces.
    sr : int
        Sample rate of the rendering.
    programs : tuple of int
        General MIDI programs, one drawn per piece.
    prefix : str
        File name prefix.
    progress : callable, optional
        ``progress(i, n)`` after each piece.
    soundfonts : tuple of str, optional
        SoundFonts to draw one from per piece (default: :func:`~unmf_core.training.render.find_soundfont`'s).
    augment : bool
        Alter every piece as a real recording would be (:mod:`unmf_core.training.augment`:
        stretched tuning, a room half of the time, colouring, noise).
    segments : tuple
        What pieces are made of (:func:`random_piece`; :data:`GATE_SEGMENTS` adds repeated strikes).
    zones : bool
        Play every piece on a zone-shifted piano of its own (:mod:`unmf_core.training.zones`; its seed in the
        manifest's ``"zones"``): every key sounds a transposed neighbour, so the sound changes from zone to zone
        of keys as a sampled piano's does. The tuning is then not stretched (the zones take the pitch bends).

    The folder's ``manifest.json`` records each piece's SoundFont, program and
    augmentation, and its zones' seed with ``zones`` (:func:`read_manifest`).

    Returns
    -------
    list of Path
        The audio files written.
    """
    from ..frontend.audio import save_audio
    from ..io.atomic import atomic_path
    from . import augment as aug_mod
    from .render import find_soundfont, render_midi
    from .zones import write_zone_midi, zone_offsets

    out = Path(out_dir)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    (out / "midi").mkdir(parents=True, exist_ok=True)
    fonts = tuple(soundfonts) if soundfonts else (find_soundfont(),)
    rng = np.random.default_rng(seed)
    written, manifest = [], {}
    for i in range(n_pieces):
        notes = random_piece(rng, duration, segments)
        program = int(programs[int(rng.integers(len(programs)))])
        gain = float(rng.uniform(0.3, 0.9))
        name = f"{prefix}-{i:04d}"
        mid = out / "midi" / f"{name}.mid"
        write_midi(notes, mid, program=program)
        arng = np.random.default_rng((seed, i))  # the augmentation's own draws: the pieces stay those of `seed`
        font = fonts[int(arng.integers(len(fonts)))]
        aug = aug_mod.draw(arng) if augment else aug_mod.Augmentation()
        entry: dict = {}
        with tempfile.TemporaryDirectory() as tmp:
            played = Path(tmp) / "played.mid"
            if zones:
                aug = replace(aug, offset_cents=0.0, bass_cents=0.0, treble_cents=0.0)
                entry["zones"] = int(arng.integers(1 << 31))
                write_zone_midi(notes, played, zone_offsets(entry["zones"]), program)
            elif augment:
                aug_mod.write_tuned_midi(notes, played, program, aug)
            else:
                played = mid
            y = render_midi(played, sr, soundfont=font)
        if augment:
            y = aug_mod.apply(y, arng, sr, aug)
        top = float(np.abs(y).max()) or 1.0
        wav = out / "audio" / f"{name}.wav"
        save_audio(wav, (gain * y / top).astype(np.float32), sr)
        written.append(wav)
        manifest[name] = {"soundfont": Path(font).name, "program": program, "augmentation": aug.to_dict(), **entry}
        if progress is not None:
            progress(i + 1, n_pieces)
    with atomic_path(out / "manifest.json") as tmp_path:
        Path(tmp_path).write_text(json.dumps(manifest, indent=1))
    return written


def read_manifest(folder: str | Path) -> dict:
    """``{name: {"soundfont", "program", "augmentation"}}`` of a folder made by :func:`make_dataset` ({} if none)."""
    path = Path(folder) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def render_keys(folder: str | Path, pitches, sr: int = 22050, program: int = 0, soundfont: str | None = None,
                zones: np.ndarray | None = None, spacing: float = 2.5, length: float = 1.5,
                velocity: int = 80) -> Path:
    """Render single notes of a GM program one at a time into ``folder/KEY.wav`` (a folder of notes to calibrate from).

    Parameters
    ----------
    folder : str or Path
        Destination (created).
    pitches : iterable of int
        MIDI pitches (21..108).
    sr : int
        Sample rate.
    program : int
        General MIDI program.
    soundfont : str, optional
        SoundFont (default: :func:`~unmf_core.training.render.find_soundfont`'s).
    zones : np.ndarray, optional
        ``(88,)`` transpositions: the keys of a zone-shifted piano (:mod:`unmf_core.training.zones`).
    spacing, length : float
        Seconds from one note to the next (each file's length) and each note's length.
    velocity : int
        MIDI velocity.

    Returns
    -------
    Path
        ``folder``.
    """
    from ..frontend.audio import save_audio
    from .render import render_midi
    from .zones import write_zone_midi

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    pitches = [int(p) for p in pitches]
    lead = 0.1 if zones is None else 0.2  # each file starts 0.1 s before its note; a zone's bend is set at 0.1 s
    notes = [Note(p, i * spacing + lead, i * spacing + lead + length, velocity) for i, p in enumerate(pitches)]
    names = key_names()
    with tempfile.TemporaryDirectory() as tmp_name:
        mid = Path(tmp_name) / "keys.mid"
        if zones is None:
            write_midi(notes, mid, program=program)
        else:
            write_zone_midi(notes, mid, zones, program)
        y = render_midi(mid, sr, soundfont=soundfont)
    seg, skip = int(spacing * sr), int(round((lead - 0.1) * sr))
    for i, p in enumerate(pitches):
        save_audio(out / f"{names[p - 21]}.wav", y[i * seg + skip:(i + 1) * seg + skip], sr)
    return out


def make_templates(params: CQTParams = CQTParams(), program: int = 0, spacing: float = 2.5,
                   length: float = 1.5, velocity: int = 80, soundfont: str | None = None):
    """Templates of one GM program: its 88 keys rendered one by one (:func:`render_keys`) and analysed.

    Returns
    -------
    unmf_core.transcription.templates.Templates
    """
    from .render import find_soundfont
    from ..calibration import build_from_folder

    with tempfile.TemporaryDirectory() as tmp_name:
        folder = render_keys(Path(tmp_name) / "keys", range(21, 109), params.sr, program, soundfont,
                             spacing=spacing, length=length, velocity=velocity)
        t = build_from_folder(folder, params, mix=False)  # the preset's own templates
    font = Path(find_soundfont(soundfont)).stem
    t.source = f"GM program {program} of {font} rendered by FluidSynth (unmf_core.training.synthdata)"
    return t
