"""MusicXML export with music21: a piano part on two staves (treble and bass, split at middle C).

Notes are placed on the beat grid (quantised: a score needs note values) and
written with the grid's time signature (a pickup bar first when the first
downbeat is not the first beat) and its median tempo as a metronome mark.
music21 splits notes across bar lines with ties and puts overlapping notes of a
staff in separate voices. Only music21's notation classes are used (never its corpus).
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from ..errors import MidiError
from ..transcription.notes import Note
from .quantize import grid_step, quantize_positions
from .tempo import BeatGrid

#: Lowest pitch of the treble staff (middle C).
SPLIT_PITCH = 60
#: Quantisation used when the export asks for none (a score needs note values).
DEFAULT_QUANTIZE = "1/16"


def to_score(notes: list[Note], grid: BeatGrid, quantize: str = DEFAULT_QUANTIZE, title: str = "unmf"):
    """A :class:`music21.stream.Score` of the notes (see the module notes).

    Parameters
    ----------
    notes : list of Note
    grid : BeatGrid
        Beats and metre: quarter notes are beats of the grid.
    quantize : str
        Note values' grid (:data:`~unmf_core.notation.quantize.STEPS`); ``"off"`` means
        :data:`DEFAULT_QUANTIZE`.
    title : str
        The score's title.
    """
    from music21 import chord, clef, instrument, layout, meter, metadata, note, stream, tempo

    step = grid_step(quantize) or Fraction(1, 4)  # DEFAULT_QUANTIZE
    placed = quantize_positions(notes, grid, step)
    score = stream.Score()
    score.insert(0, metadata.Metadata(title=title))
    staves = []
    for name, cl in (("treble", clef.TrebleClef()), ("bass", clef.BassClef())):
        staff = stream.PartStaff(id=name)
        staff.insert(0, instrument.Piano())
        staff.insert(0, cl)
        if grid.downbeat:
            staff.insert(0, meter.TimeSignature(f"{grid.downbeat}/4"))
        staff.insert(grid.downbeat, meter.TimeSignature(grid.time_signature))
        staves.append(staff)
    staves[0].insert(0, tempo.MetronomeMark(number=round(grid.bpm, 1), referent=note.Note(type="quarter")))
    groups: dict[tuple[int, Fraction, Fraction], list[Note]] = {}
    for n, a, b in placed:
        groups.setdefault((0 if n.pitch >= SPLIT_PITCH else 1, a, b), []).append(n)
    for (staff_i, a, b), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        el: note.NotRest
        if len(members) == 1:
            el = note.Note(members[0].pitch, quarterLength=b - a)
            el.volume.velocity = members[0].velocity
        else:
            el = chord.Chord([m.pitch for m in members], quarterLength=b - a)
            el.volume.velocity = max(m.velocity for m in members)
        staves[staff_i].insert(a, el)
    for staff in staves:
        score.insert(0, staff)
    score.insert(0, layout.StaffGroup(staves, name="Piano", symbol="brace", barTogether=True))
    return score


def to_bytes(notes: list[Note], grid: BeatGrid, quantize: str = DEFAULT_QUANTIZE, title: str = "unmf") -> bytes:
    """MusicXML (uncompressed ``.musicxml``) of the notes."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    score = to_score(notes, grid, quantize, title)
    return GeneralObjectExporter(score).parse()


def write_musicxml(notes: list[Note], path: str | Path, grid: BeatGrid, quantize: str = DEFAULT_QUANTIZE,
                   overwrite: bool = True) -> None:
    """Write the notes as MusicXML, atomically."""
    from ..io.atomic import write_bytes_atomic

    write_bytes_atomic(path, to_bytes(notes, grid, quantize, Path(path).stem), overwrite)


def read_musicxml(path: str | Path) -> list[tuple[int, Fraction, Fraction]]:
    """``(pitch, onset, duration)`` of every note of a MusicXML file, in quarter notes, ties joined.

    A note head with a tie start (or continue) is joined with the next head of its pitch that starts where it ends,
    as notation programs read it (music21's ``stripTies`` misses a tie into a note that a bar line split again).

    Raises
    ------
    MidiError
        The file cannot be read as MusicXML.
    """
    from music21 import chord, converter

    try:
        score = converter.parse(str(path), format="musicxml", forceSource=True)
    except Exception as exc:  # music21 raises many types on malformed files
        raise MidiError(f"{Path(path).name}: not a readable MusicXML file ({str(exc)[:120]})") from None
    pieces = []  # (pitch, onset, end, tied on): each written note head
    for el in score.flatten().notes:
        on = Fraction(el.offset).limit_denominator(96)
        end = on + Fraction(el.quarterLength).limit_denominator(96)
        heads = list(el.notes) if isinstance(el, chord.Chord) else [el]  # type: ignore[attr-defined]
        for n in heads:
            tie = n.tie if n.tie is not None else el.tie
            tied = tie is not None and tie.type in ("start", "continue")
            pieces.append((int(n.pitch.midi), on, end, tied))  # type: ignore[attr-defined,union-attr]
    out: list[list] = []
    open_: dict[int, list] = {}  # pitch → the note a tie continues
    for pitch, on, end, tied in sorted(pieces, key=lambda x: (x[1], x[0])):
        prev = open_.pop(pitch, None)
        if prev is not None and prev[1] + prev[2] == on:
            prev[2] += end - on
            cur = prev
        else:
            cur = [pitch, on, end - on]
            out.append(cur)
        if tied:
            open_[pitch] = cur
    return [(p, a, d) for p, a, d in sorted(out, key=lambda x: (x[1], x[0]))]
