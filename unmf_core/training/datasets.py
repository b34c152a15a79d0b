"""Datasets of (audio, MIDI) pairs for training and validation.

:func:`find_pairs` accepts two folder layouts: ``audio/x.wav`` + ``midi/x.mid``,
or ``x.wav`` next to ``x.mid`` (MAPS, whose extra ``x.txt`` files are ignored).
Spectrograms are cached on disk by :class:`CQTCache`, keyed by the SHA-1 of the
audio file's bytes and the CQT parameters, so a file is analysed once.
:class:`PairDataset` serves fixed-length random crops (training) or whole files
(validation) as ``(M, roll, onsets)`` tensors.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..frontend.cqt import CQTParams, compute_cqt
from ..errors import DataError
from ..transcription.notes import Note, piano_roll, read_midi

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
MIDI_SUFFIXES = (".mid", ".midi")


def default_cache_dir() -> Path:
    """``$UNMF_CACHE`` or ``~/.cache/unmf/cqt``."""
    env = os.environ.get("UNMF_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "unmf" / "cqt"


def _by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    return {f.stem: f for f in sorted(folder.iterdir()) if f.is_file() and f.suffix.lower() in suffixes}


def find_pairs(folder: str | Path) -> list[tuple[Path, Path]]:
    """(audio, MIDI) pairs of a folder, sorted by name.

    Parameters
    ----------
    folder : str or Path
        Either holds ``audio/`` and ``midi/`` sub-folders, or audio and MIDI
        files side by side (same stem).

    Raises
    ------
    DataError
        The folder is missing, holds no pair, or a file has no partner (the
        message names the unpaired files).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    if (folder / "audio").is_dir() and (folder / "midi").is_dir():
        audio, midi = _by_stem(folder / "audio", AUDIO_SUFFIXES), _by_stem(folder / "midi", MIDI_SUFFIXES)
    else:
        audio, midi = _by_stem(folder, AUDIO_SUFFIXES), _by_stem(folder, MIDI_SUFFIXES)
    lone_audio = sorted(set(audio) - set(midi))
    lone_midi = sorted(set(midi) - set(audio))
    if lone_audio or lone_midi:
        parts = []
        if lone_audio:
            parts.append(f"audio without MIDI: {', '.join(audio[s].name for s in lone_audio[:5])}")
        if lone_midi:
            parts.append(f"MIDI without audio: {', '.join(midi[s].name for s in lone_midi[:5])}")
        raise DataError(f"{folder}: unpaired files ({'; '.join(parts)})")
    if not audio:
        raise DataError(f"{folder}: no (audio, MIDI) pairs found (expected audio/x.wav + midi/x.mid, "
                        f"or x.wav next to x.mid)")
    return [(audio[s], midi[s]) for s in sorted(audio)]


def file_key(path: str | Path, params: CQTParams) -> str:
    """SHA-1 of the file's bytes and the CQT parameters."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    h.update(json.dumps(params.to_dict(), sort_keys=True).encode())
    return h.hexdigest()


class CQTCache:
    """Magnitude CQTs on disk, one ``.npy`` per (file content, CQT parameters).

    Parameters
    ----------
    folder : str or Path, optional
        Cache folder (default :func:`default_cache_dir`); created on first write.
    params : CQTParams
        The CQT.
    """

    def __init__(self, folder: str | Path | None = None, params: CQTParams = CQTParams()):
        self.folder = Path(folder) if folder else default_cache_dir()
        self.params = params

    def path_for(self, audio_path: str | Path) -> Path:
        """Where the CQT of this file is (or would be) cached."""
        return self.folder / f"{file_key(audio_path, self.params)}.npy"

    def get(self, audio_path: str | Path) -> np.ndarray:
        """The ``(n_bins, T)`` float32 magnitude CQT of a file, computed once.

        Raises
        ------
        AudioError
            The audio file cannot be read.
        """
        from ..frontend.audio import load_audio
        from ..io.atomic import write_bytes_atomic

        target = self.path_for(audio_path)
        if target.is_file():
            try:
                return np.load(target, allow_pickle=False)
            except (OSError, ValueError, EOFError):
                pass  # a damaged cache entry is recomputed below
        audio = load_audio(audio_path, self.params.sr)
        M = compute_cqt(audio.samples, self.params).cpu().numpy().astype(np.float32)
        self.folder.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.save(buf, M, allow_pickle=False)
        write_bytes_atomic(target, buf.getvalue())
        return M


@dataclass
class Example:
    """One analysed pair: CQT, reference notes and its name."""

    name: str
    M: np.ndarray
    notes: list[Note]
    #: Index of the template set made from the instrument of this recording (rendered training data), if known.
    template: int | None = None


def onset_roll(notes: list[Note], n_frames: int, frame_rate: float, width: int = 1) -> np.ndarray:
    """Boolean ``(88, n_frames)``: True within ``width`` frames after each onset."""
    roll = np.zeros((88, n_frames), dtype=bool)
    for n in notes:
        k = n.pitch - 21
        a = int(round(n.onset * frame_rate))
        if 0 <= k < 88 and a < n_frames:
            roll[k, max(0, a):min(n_frames, a + width + 1)] = True
    return roll


def load_examples(pairs: list[tuple[Path, Path]], cache: CQTCache, progress=None) -> list[Example]:
    """Analyse every pair (through the cache) and read its MIDI.

    Raises
    ------
    AudioError, MidiError
        A file cannot be read (the message names it).
    DataError
        A MIDI file holds no notes in A0..C8.
    """
    out = []
    for i, (a, m) in enumerate(pairs):
        notes = [n for n in read_midi(m) if 21 <= n.pitch <= 108]
        if not notes:
            raise DataError(f"{m.name}: no notes in the piano range A0..C8")
        out.append(Example(a.stem, cache.get(a), notes))
        if progress is not None:
            progress(i + 1, len(pairs))
    return out


class PairDataset(torch.utils.data.Dataset):
    """Examples as ``(M, roll, onsets, template_index)`` items.

    Parameters
    ----------
    examples : list of Example
        Analysed pairs.
    frame_rate : float
        Frames per second of the CQT.
    crop : int or None
        Frames per random crop (training); None gives whole files (validation).
    crops_per_file : int
        Items per file and epoch when cropping.
    n_templates : int
        Number of template sets to draw from: a crop gets set 0 (the default
        templates) with chance ``default_share``; otherwise an example whose
        ``template`` is known gets its own instrument's set half of the time,
        else the index is drawn at random.
    seed : int
        Seed of the crop positions (advanced every epoch by :meth:`set_epoch`).
    default_share : float
        See ``n_templates``.
    """

    def __init__(self, examples: list[Example], frame_rate: float, crop: int | None = None,
                 crops_per_file: int = 1, n_templates: int = 1, seed: int = 0, default_share: float = 0.0):
        if not examples:
            raise DataError("empty dataset")
        self.examples = examples
        self.frame_rate = frame_rate
        self.crop = crop
        self.crops_per_file = crops_per_file if crop else 1
        self.n_templates = n_templates
        self.default_share = default_share
        self.seed = seed
        self.epoch = 0
        self._rolls = [piano_roll(e.notes, e.M.shape[1], frame_rate) for e in examples]
        self._onsets = [onset_roll(e.notes, e.M.shape[1], frame_rate) for e in examples]

    def set_epoch(self, epoch: int) -> None:
        """Draw new crop positions for another epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.examples) * self.crops_per_file

    def __getitem__(self, i: int):
        j = i % len(self.examples)
        M, roll, ons = self.examples[j].M, self._rolls[j], self._onsets[j]
        rng = np.random.default_rng((self.seed, self.epoch, i))
        if self.crop:
            T = M.shape[1]
            if T < self.crop:
                pad = self.crop - T
                M = np.pad(M, ((0, 0), (0, pad)))
                roll, ons = np.pad(roll, ((0, 0), (0, pad))), np.pad(ons, ((0, 0), (0, pad)))
            else:
                s = int(rng.integers(0, T - self.crop + 1))
                M, roll, ons = M[:, s:s + self.crop], roll[:, s:s + self.crop], ons[:, s:s + self.crop]
        k = int(rng.integers(self.n_templates))
        own = self.examples[j].template
        if self.default_share and rng.random() < self.default_share:
            k = 0
        elif own is not None and own < self.n_templates and rng.random() < 0.5:
            k = own
        return (torch.from_numpy(np.ascontiguousarray(M, dtype=np.float32)),
                torch.from_numpy(np.ascontiguousarray(roll, dtype=np.float32)),
                torch.from_numpy(np.ascontiguousarray(ons, dtype=np.float32)), k)
