"""``unmf transcribe``'s notation options: tempo, quantisation and output format.

``--tempo auto|BPM``, ``--quantize off|1/4|1/8|1/16|1/32|1/8t|1/16t``,
``--format midi|musicxml|csv`` (default: from the output's suffix, MIDI for a
folder), ``--beats-from audio|notes`` and ``--time-signature 4/4|3/4``.
:func:`write` turns one transcription into the chosen file.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ..errors import OptionError

#: Output formats → (file suffix, accepted suffixes of ``-o``).
FORMATS = {"midi": (".mid", (".mid", ".midi")), "musicxml": (".musicxml", (".musicxml", ".xml")),
           "csv": (".csv", (".csv",))}
#: Every output suffix ``-o`` may name.
SUFFIXES = tuple(sfx for _, accepted in FORMATS.values() for sfx in accepted)


def _tempo(text: str) -> str | float:
    from ..notation.tempo import MAX_BPM, MIN_BPM

    t = text.strip().lower()
    if t == "auto":
        return "auto"
    try:
        v = float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use auto or a tempo in bpm") from None
    if not MIN_BPM / 2 <= v <= 2 * MAX_BPM:  # also rejects nan
        raise argparse.ArgumentTypeError(f"{text!r}: a tempo of {MIN_BPM / 2:g}-{2 * MAX_BPM:g} bpm")
    return v


def _quantize(text: str) -> str:
    from ..notation.quantize import STEPS

    t = text.strip().lower()
    if t not in STEPS:
        raise argparse.ArgumentTypeError(f"{text!r}: use one of {', '.join(STEPS)}")
    return t


def _metre(text: str) -> int:
    t = text.strip()
    if t not in ("2/4", "3/4", "4/4"):
        raise argparse.ArgumentTypeError(f"{text!r}: use 4/4, 3/4 or 2/4")
    return int(t[0])


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the notation group to a sub-command's parser."""
    g = p.add_argument_group("notation")
    g.add_argument("--format", choices=sorted(FORMATS), default=None,
                   help="midi, musicxml or csv (default: from the output's suffix; midi for a folder)")
    g.add_argument("--tempo", type=_tempo, default=None,
                   help="auto: track the beats and write them as a tempo map with bars; or a fixed tempo in bpm "
                   "(default: auto when --quantize or MusicXML need a beat grid, else 120 bpm untracked: "
                   "tracking loads librosa's beat tracker, several seconds per process)")
    g.add_argument("--quantize", type=_quantize, default="off",
                   help="snap notes to the beat grid: off (default), 1/4, 1/8, 1/16, 1/32, 1/8t, 1/16t "
                   "(MusicXML needs note values: off writes it on 1/16)")
    g.add_argument("--beats-from", choices=["notes", "audio"], default="audio",
                   help="track the beats on the audio's onset strength (default) or on the transcribed notes' "
                   "onsets (either way snapped to the notes' onsets)")
    g.add_argument("--time-signature", type=_metre, default=4, metavar="N/4",
                   help="4/4 (default), 3/4 or 2/4")


def output_format(args, out: Path, single: bool) -> str:
    """The output format: ``--format``, else the suffix of ``-o`` (one output), else MIDI.

    Raises
    ------
    OptionError
        ``-o`` names a file whose suffix does not fit the format.
    """
    fmt = args.format
    if single and out.suffix and not out.is_dir():
        by_suffix = next((f for f, (_, sfx) in FORMATS.items() if out.suffix.lower() in sfx), None)
        if fmt is None and by_suffix is None:
            raise OptionError(f"-o {out}: name it .mid, .musicxml or .csv (or give a folder, or --format)")
        if fmt is not None and by_suffix != fmt:
            raise OptionError(f"-o {out}: --format {fmt} writes {' or '.join(FORMATS[fmt][1])} files")
        return by_suffix  # type: ignore[return-value]
    return fmt or "midi"


def default_tempo(args, fmt: str) -> str | float:
    """``--tempo``, else ``"auto"`` when the output needs a beat grid (quantised, or MusicXML), else 120 bpm.

    Tracking costs a few seconds per process (librosa's onset and beat code, numba-compiled at import),
    several times the transcription of a short file, so a plain MIDI file is not tracked unless asked.
    """
    if args.tempo is not None:
        return args.tempo
    return "auto" if fmt == "musicxml" or args.quantize != "off" else 120.0


def suffix(fmt: str) -> str:
    """File suffix of a format (``.mid``, ``.musicxml``, ``.csv``)."""
    return FORMATS[fmt][0]


def write(notes, duration: float, dst: str | Path, args, fmt: str, audio: str | Path | None = None,
          overwrite: bool = False) -> str:
    """Write one transcription as ``fmt`` with the notation options of ``args``; returns a summary.

    Parameters
    ----------
    notes : list of Note
        The transcription's notes (``Transcription.notes``).
    duration : float
        Length of the recording (s).
    dst : path
        The file to write (atomically).
    args : argparse.Namespace
        With ``tempo``, ``quantize``, ``beats_from`` and ``time_signature``.
    fmt : str
        ``"midi"``, ``"musicxml"`` or ``"csv"``.
    audio : path, optional
        The recording (read again when ``--beats-from audio``).
    """
    from ..notation.midi import write_midi
    from ..notation.musicxml import write_musicxml
    from ..notation.quantize import quantize
    from ..notation.tempo import beat_grid
    from ..transcription.notes import write_csv

    tempo = default_tempo(args, fmt)
    pcm = None
    if tempo == "auto" and args.beats_from == "audio" and audio is not None:
        from ..frontend.audio import load_audio
        from ..notation.tempo import SR

        a = load_audio(audio, SR)
        pcm = (a.samples, a.sr)
    grid = beat_grid(notes, duration, tempo, pcm, args.time_signature)
    if fmt == "musicxml":
        write_musicxml(notes, dst, grid, args.quantize, overwrite=overwrite)
    else:
        out = quantize(notes, grid, args.quantize)
        if fmt == "csv":
            write_csv(out, dst, overwrite=overwrite)
        else:
            write_midi(out, dst, grid, overwrite=overwrite)
    q = "" if args.quantize == "off" else f", quantised {args.quantize}"
    return f"{grid.bpm:.1f} bpm {grid.time_signature}{q}"


@dataclass(frozen=True)
class Writer:
    """The batch's ``write(result, job, overwrite)``: one transcription to ``job.dst`` as ``fmt``.

    Picklable (sent to ``-j`` worker processes); has the notation attributes :func:`write` reads.
    """

    fmt: str = "midi"
    tempo: str | float | None = None
    quantize: str = "off"
    beats_from: str = "audio"
    time_signature: int = 4

    @classmethod
    def of(cls, args, fmt: str) -> Writer:
        """The writer of parsed ``transcribe`` arguments and an output format."""
        return cls(fmt, args.tempo, args.quantize, args.beats_from, args.time_signature)

    def __call__(self, result, job, overwrite: bool) -> str:
        return write(result.notes, result.duration, job.dst, self, self.fmt, job.src, overwrite)
