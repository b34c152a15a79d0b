"""What real recordings add to rendered training material: tuning, room, colouring, noise.

A SoundFont piano is perfectly tuned, dry and clean; a user's piano is none of
these. :func:`draw` picks, per piece, a random :class:`Augmentation`:

* **stretched tuning** (:func:`tuning_cents`): real pianos run flat in the bass
  (up to ~30 cents at A0) and sharp in the treble (up to ~15 cents at C8),
  plus an overall offset from A440 of up to ±20 cents. FluidSynth has no
  per-key tuning on the command line, so :func:`write_tuned_midi` spreads the
  keys over the 15 melodic MIDI channels in bands of adjacent keys and gives
  each band a pitch bend (the default bend range of ±2 semitones; a band is
  at most 6 keys wide, so no key is more than ~3 cents off its curve);
* **a room** (:func:`room_ir`): a synthetic impulse response, RT60 0.3-2 s,
  a few early reflections and a late tail of noise that decays faster at
  high frequencies than at low ones;
* **microphone / EQ colouring** (:func:`colour`): a smooth random gain
  curve over log-frequency (a tilt plus a few broad bumps, within ±8 dB);
* **background noise** (:func:`add_noise`): pink noise at 25-50 dB SNR.

The target notes never change: only the audio does. Everything is drawn from
the piece's own random generator, so a seed gives the same material again.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

#: What :func:`draw` does, in words (recorded in the checkpoints of models trained on augmented material).
DESCRIPTION = ("stretched tuning (offset ±20 cents, bass to −30, treble to +15), a room half of the time (synthetic "
               "IR, RT60 0.3-2 s), EQ colouring half of the time (±2-8 dB), pink noise 30 % of the time (25-50 dB "
               "SNR); unmf_core.training.augment")
#: MIDI channels that play melodic instruments (channel 10, index 9, is percussion).
MELODIC_CHANNELS = tuple(c for c in range(16) if c != 9)
#: Pitch-bend range FluidSynth applies by default, in cents.
BEND_RANGE_CENTS = 200.0


@dataclass
class Augmentation:
    """How one training piece is altered (stored in the data manifest and the checkpoint).

    Attributes
    ----------
    offset_cents : float
        Overall tuning offset from A440.
    bass_cents, treble_cents : float
        Stretch at A0 (≤ 0) and at C8 (≥ 0), linear in key number towards middle C.
    rt60 : float
        Reverberation time of the room in seconds; 0 = dry.
    eq_db : float
        Largest absolute gain of the colouring curve, dB; 0 = none.
    snr_db : float
        Signal-to-noise ratio of the added pink noise, dB; 0 = no noise.
    """

    offset_cents: float = 0.0
    bass_cents: float = 0.0
    treble_cents: float = 0.0
    rt60: float = 0.0
    eq_db: float = 0.0
    snr_db: float = 0.0

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready)."""
        return asdict(self)


def draw(rng: np.random.Generator, room: float = 0.5, eq: float = 0.5, noise: float = 0.3) -> Augmentation:
    """A random :class:`Augmentation`: always a tuning; a room, colouring and noise with the given chances."""
    return Augmentation(offset_cents=float(rng.uniform(-20, 20)), bass_cents=float(-30 * rng.uniform()),
                        treble_cents=float(15 * rng.uniform()),
                        rt60=float(rng.uniform(0.3, 2.0)) if rng.random() < room else 0.0,
                        eq_db=float(rng.uniform(2, 8)) if rng.random() < eq else 0.0,
                        snr_db=float(rng.uniform(25, 50)) if rng.random() < noise else 0.0)


def tuning_cents(pitch: np.ndarray | float, aug: Augmentation) -> np.ndarray:
    """Deviation in cents of each MIDI pitch from equal temperament at A440."""
    p = np.asarray(pitch, dtype=np.float64)
    bass = np.clip((60 - p) / (60 - 21), 0, 1) * aug.bass_cents
    treble = np.clip((p - 60) / (108 - 60), 0, 1) * aug.treble_cents
    return aug.offset_cents + bass + treble


def write_tuned_midi(notes: list, path: str | Path, program: int, aug: Augmentation) -> None:
    """Write ``notes`` for rendering: keys in bands on separate channels, each band bent to its tuning.

    pretty_midi gives the i-th instrument of a file the i-th melodic channel, so
    every band (at most 15) gets a channel and a pitch bend of its own.
    """
    import pretty_midi

    n_bands = len(MELODIC_CHANNELS)
    edges = np.linspace(21, 109, n_bands + 1)
    pm = pretty_midi.PrettyMIDI()
    for b in range(n_bands):
        lo, hi = edges[b], edges[b + 1]
        inst = pretty_midi.Instrument(program=program)
        cents = float(tuning_cents((lo + hi - 1) / 2, aug))
        bend = int(np.clip(round(cents / BEND_RANGE_CENTS * 8192), -8192, 8191))
        inst.pitch_bends.append(pretty_midi.PitchBend(bend, 0.0))
        inst.notes = [pretty_midi.Note(int(n.velocity), int(n.pitch), float(n.onset), float(n.offset))
                      for n in notes if lo <= n.pitch < hi]
        pm.instruments.append(inst)
    pm.write(str(path))


def room_ir(rng: np.random.Generator, sr: int, rt60: float) -> np.ndarray:
    """A synthetic room impulse response of reverberation time ``rt60`` (peak-normalised direct sound).

    Direct sound, 3-8 early reflections in the first 5-40 ms, then a noise tail
    split in four octave-wide bands whose decay times fall from ``1.2·rt60`` at
    the lowest to ``0.6·rt60`` at the highest (air and walls absorb treble),
    at a direct-to-reverberant level drawn between −6 and +6 dB.
    """
    from scipy.signal import butter, sosfilt

    n = int(sr * rt60 * 1.2) + 1
    t = np.arange(n) / sr
    tail = np.zeros(n)
    edges = [0, 500, 1500, 4000, sr / 2]
    for i, (f_lo, f_hi) in enumerate(zip(edges[:-1], edges[1:])):
        noise = rng.standard_normal(n)
        if f_lo == 0:
            sos = butter(2, f_hi, "lowpass", fs=sr, output="sos")
        elif f_hi >= sr / 2:
            sos = butter(2, f_lo, "highpass", fs=sr, output="sos")
        else:
            sos = butter(2, [f_lo, f_hi], "bandpass", fs=sr, output="sos")
        t60 = rt60 * (1.2 - 0.2 * i)
        tail += sosfilt(sos, noise) * 10 ** (-3 * t / t60)
    pre = int(sr * rng.uniform(0.005, 0.015))
    tail[:pre] = 0.0
    ir = tail / (np.sqrt(np.sum(tail ** 2)) + 1e-12) * 10 ** (rng.uniform(-6, 6) / 20)
    ir[0] += 1.0
    for _ in range(int(rng.integers(3, 9))):
        ir[int(sr * rng.uniform(0.005, 0.04))] += rng.uniform(-0.5, 0.5)
    return ir


def colour(y: np.ndarray, rng: np.random.Generator, sr: int, max_db: float) -> np.ndarray:
    """``y`` through a smooth random gain curve over log-frequency (tilt + 2-4 bumps, within ±``max_db``)."""
    spec = np.fft.rfft(y)
    f = np.fft.rfftfreq(len(y), 1 / sr)
    octs = np.log2(np.maximum(f, 20.0) / 1000.0)
    curve = rng.uniform(-1, 1) * octs
    for _ in range(int(rng.integers(2, 5))):
        curve += rng.uniform(-1, 1) * np.exp(-0.5 * ((octs - rng.uniform(-5, 3.5)) / rng.uniform(0.3, 1.2)) ** 2)
    curve *= max_db / max(float(np.abs(curve).max()), 1e-9)
    return np.fft.irfft(spec * 10 ** (curve / 20), n=len(y))


def add_noise(y: np.ndarray, rng: np.random.Generator, snr_db: float) -> np.ndarray:
    """``y`` plus pink noise ``snr_db`` below its power."""
    white = np.fft.rfft(rng.standard_normal(len(y)))
    f = np.arange(len(white), dtype=np.float64)
    pink = np.fft.irfft(white / np.sqrt(np.maximum(f, 1.0)), n=len(y))
    p_sig = float(np.mean(y ** 2)) or 1e-12
    pink *= np.sqrt(p_sig / (float(np.mean(pink ** 2)) + 1e-20) * 10 ** (-snr_db / 10))
    return y + pink


def apply(y: np.ndarray, rng: np.random.Generator, sr: int, aug: Augmentation) -> np.ndarray:
    """The room, colouring and noise of ``aug`` applied to a dry rendering (the tuning is in the MIDI)."""
    from scipy.signal import fftconvolve

    out = np.asarray(y, dtype=np.float64)
    if aug.rt60 > 0:
        out = fftconvolve(out, room_ir(rng, sr, aug.rt60))[:len(out) + int(sr * aug.rt60)]
    if aug.eq_db > 0:
        out = colour(out, rng, sr, aug.eq_db)
    if aug.snr_db > 0:
        out = add_noise(out, rng, aug.snr_db)
    return out.astype(np.float32)
