"""Render MIDI to audio with FluidSynth and a General MIDI SoundFont.

Used by the project's scripts to make its own material (demo recording,
default templates, training data) from sources anyone can reproduce: Debian's
``fluidsynth`` and ``fluid-soundfont-gm`` packages. Not needed at run time.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import UnmfError

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/sounds/sf3/default-GM.sf3")


class RenderError(UnmfError):
    """FluidSynth or a SoundFont is missing, or rendering failed."""

    exit_code = 8


def find_soundfont(path: str | None = None) -> str:
    """A General MIDI SoundFont: ``path``, ``$UNMF_SOUNDFONT`` or Debian's FluidR3_GM."""
    for cand in (path, os.environ.get("UNMF_SOUNDFONT"), *SOUNDFONTS):
        if cand and Path(cand).is_file():
            return str(cand)
    raise RenderError("no General MIDI SoundFont found: install Debian's fluid-soundfont-gm or set UNMF_SOUNDFONT")


def available() -> bool:
    """Whether FluidSynth and a SoundFont are installed."""
    try:
        find_soundfont()
    except RenderError:
        return False
    return shutil.which("fluidsynth") is not None


def render_midi(midi_path: str | Path, sr: int = 22050, soundfont: str | None = None,
                gain: float = 0.5) -> np.ndarray:
    """Render a MIDI file to a mono float32 signal.

    Parameters
    ----------
    midi_path : str or Path
        The MIDI file.
    sr : int
        Output sample rate.
    soundfont : str, optional
        SoundFont path (see :func:`find_soundfont`).
    gain : float
        FluidSynth master gain.

    Returns
    -------
    np.ndarray
        Mono samples, reverb and chorus off.
    """
    import soundfile as sf

    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RenderError("fluidsynth is not installed (Debian package fluidsynth)")
    sf2 = find_soundfont(soundfont)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        cmd = [exe, "-ni", "-q", "-R", "0", "-C", "0", "-g", str(gain), "-r", str(sr), "-F", str(out),
               "-T", "wav", "-O", "float", sf2, str(midi_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not out.exists():
            raise RenderError(f"fluidsynth failed on {midi_path}: {proc.stderr.strip()[:200]}")
        y, file_sr = sf.read(str(out), dtype="float32", always_2d=True)
    return y.mean(axis=1)
