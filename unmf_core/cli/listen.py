"""``unmf listen``: live transcription of the default input device (or of a file replayed in real time).

Notes are printed as they are found (``+ C4 at 12.345 s`` when a note's onset
is certain, ``- C4 12.345-12.900 s vel 80`` when it has ended). Ctrl+C stops
listening: the open notes end, the MIDI file is written atomically and the
exit code is 0 (stopping is the normal way to end a take). A second Ctrl+C
aborts at once without writing (exit 130). No PortAudio or no input device:
one line on stderr and exit 6 (device unavailable; see
:mod:`unmf_core.cli.commands` for the codes).
"""
from __future__ import annotations

import signal
import sys
from pathlib import Path


def add_command(sub) -> None:
    """Register ``unmf listen`` on the sub-parsers of :func:`unmf_core.cli.commands.build_parser`."""
    p = sub.add_parser("listen", help="transcribe the microphone live until Ctrl+C",
                       description="Transcribe the default input device (or --input FILE, replayed in real "
                       "time through the same code) until Ctrl+C; notes are printed as they come and written "
                       "to -o at the end (also on Ctrl+C, exit 0).")
    p.add_argument("-o", "--output", help="MIDI file to write at the end (default: none)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--device", metavar="N", help="input device index or name (default: the system's default)")
    p.add_argument("--input", metavar="FILE", help="replay this audio file instead of a microphone")
    p.add_argument("--no-realtime", action="store_true", help="with --input: as fast as possible, not paced")
    p.add_argument("--model", metavar="CKPT", help="unrolled model checkpoint (default: bundled)")
    p.add_argument("--templates", metavar="FILE_OR_FOLDER", help="templates .npz or folder (default: the model's)")
    p.add_argument("--quiet", action="store_true", help="do not print the notes")
    p.set_defaults(func=cmd_listen)


def _stream(args, sr: int):
    from ..frontend.inputstream import FileStream, MicrophoneStream

    if args.input:
        return FileStream(args.input, sr=sr, realtime=not args.no_realtime)
    device: int | str | None = args.device
    if isinstance(device, str) and device.strip().isdigit():
        device = int(device)
    return MicrophoneStream(device, sr=None)


def cmd_listen(args) -> int:
    import pretty_midi
    import torch

    from ..errors import OptionError
    from ..io.atomic import check_writable
    from ..streaming.session import listen
    from ..streaming.transcriber import LiveTranscriber
    from ..transcription.engine import Engine
    from ..transcription.notes import write_midi

    if args.no_realtime and not args.input:
        raise OptionError("--no-realtime only applies to --input FILE")
    if args.input and args.device is not None:
        raise OptionError("--device and --input exclude each other")
    if args.output:
        out = Path(args.output)
        if out.suffix.lower() not in (".mid", ".midi"):
            raise OptionError(f"-o {out}: the output is MIDI; name it .mid")
        check_writable(out, args.overwrite)
    torch.set_num_threads(1)
    engine = Engine(templates=args.templates, model=args.model, device="cpu")
    stream = _stream(args, engine.cqt.sr)
    transcriber = LiveTranscriber(engine)
    stopping = {"asked": False}

    def on_sigint(_sig, _frame):
        if stopping["asked"]:
            raise KeyboardInterrupt
        stopping["asked"] = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    source = args.input or getattr(stream, "name", "input")
    print(f"listening to {source} (Ctrl+C to stop)", file=sys.stderr, flush=True)
    lat: list[float] = []
    try:
        for step in listen(transcriber, stream, stop=lambda: stopping["asked"]):
            lat.extend(step.latencies)
            if args.quiet:
                continue
            for u in step.updates:
                for n in u.onsets:
                    print(f"+ {pretty_midi.note_number_to_name(n.pitch):4s} at {n.onset:8.3f} s", flush=True)
                for n in u.ended:
                    print(f"- {pretty_midi.note_number_to_name(n.pitch):4s} {n.onset:8.3f}-{n.offset:.3f} s "
                          f"vel {n.velocity}", flush=True)
                for n in u.retracted:
                    print(f"x {pretty_midi.note_number_to_name(n.pitch):4s} at {n.onset:8.3f} s withdrawn", flush=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    notes = transcriber.notes
    paced = not (args.input and args.no_realtime)
    msg = f"{len(notes)} notes in {transcriber.audio_time:.1f} s of audio"
    if lat and paced:
        msg += f", latency median {sorted(lat)[len(lat) // 2] * 1000:.0f} ms"
    if args.output:
        write_midi(notes, args.output, overwrite=args.overwrite)
        msg += f" -> {args.output}"
    print(msg, file=sys.stderr)
    return 0
