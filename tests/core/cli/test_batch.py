"""``unmf transcribe`` on folders, ``-j N`` threads or worker processes (:mod:`unmf_core.transcription.batch`)."""
import multiprocessing
import threading
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import synth_notes
from unmf_core.cli import main
from unmf_core.errors import AudioError, Cancelled, OptionError
from unmf_core.transcription.batch import Job, Recipe, find_audio, plan, run_batch
from unmf_core.transcription.notes import read_midi

FAST = ["--method", "mu", "--iterations", "20"]
SCORES = {"a.wav": [(60, 0.2, 0.8), (67, 0.9, 1.5)], "b.flac": [(50, 0.1, 0.6), (55, 0.7, 1.2)],
          "c.wav": [(72, 0.3, 1.0)]}


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "pieces"
    d.mkdir()
    for name, score in SCORES.items():
        sf.write(d / name, synth_notes(score), 22050)
    (d / "notes.txt").write_text("not audio, not looked at")
    (d / "live").mkdir()
    sf.write(d / "live" / "d.wav", synth_notes([(64, 0.1, 0.9)]), 22050)
    return d


def _notes(path):
    return [(n.pitch, round(n.onset, 6), round(n.offset, 6), n.velocity) for n in read_midi(path)]


def _leftovers(folder):
    return [p.name for p in folder.rglob("*") if ".part" in p.name]


def test_a_folder_gives_one_midi_per_recording_and_a_summary(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["transcribe", str(folder), "-o", str(out), "-j", "1", *FAST]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.mid", "b.mid", "c.mid"]  # not live/d.wav: no -r
    assert {n.pitch for n in read_midi(out / "a.mid")} >= {60, 67}
    text = capsys.readouterr().out
    assert "[1/3] a.wav:" in text and "[3/3] c.wav:" in text
    assert "3 of 3 files transcribed, 0 failed" in text and "s of audio in" in text


def test_recursive_keeps_sub_folders(folder, tmp_path):
    out = tmp_path / "out"
    assert main(["transcribe", str(folder), "-o", str(out), "-j", "1", "-r", *FAST]) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.mid")) == ["a.mid", "b.mid", "c.mid", "live/d.mid"]


def test_a_corrupt_file_is_reported_and_the_others_finish(folder, tmp_path, capsys):
    (folder / "b2.wav").write_text("not audio")
    out = tmp_path / "out"
    rc = main(["transcribe", str(folder), "-o", str(out), "-j", "1", *FAST])
    cap = capsys.readouterr()
    assert rc == 3  # the exit code of unreadable audio
    assert sorted(p.name for p in out.iterdir()) == ["a.mid", "b.mid", "c.mid"]
    assert "b2.wav" in cap.err and "1 of 4 files failed" in cap.err
    assert "3 of 4 files transcribed, 1 failed" in cap.out


def test_two_workers_give_the_same_notes_as_one_and_leave_no_process(folder, tmp_path, capsys):
    (folder / "bad.ogg").write_text("not audio")
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["transcribe", str(folder), "-o", str(one), "-j", "1", "--layers", "4"]) == 3
    assert main(["transcribe", str(folder), "-o", str(two), "-j", "2", "--layers", "4"]) == 3
    assert "(2 threads)" in capsys.readouterr().out
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir()) == ["a.mid", "b.mid", "c.mid"]
    for name in names:
        assert (one / name).read_bytes() == (two / name).read_bytes()  # the same files, byte for byte
        assert _notes(one / name) != []
    assert _workers_left() == []


def test_worker_processes_give_the_same_files_as_threads(folder, tmp_path):
    """The app's way (``processes=True``) and the command line's (threads) write identical files."""
    jobs = {kind: [Job(p, tmp_path / kind / f"{p.stem}.mid") for p in find_audio([folder])]
            for kind in ("threads", "processes")}
    for kind, js in jobs.items():
        (tmp_path / kind).mkdir()
        events = list(run_batch(js, Recipe(layers=4), 2, processes=kind == "processes"))
        assert sorted(e[1] for e in events if e[0] == "done") == [0, 1, 2]
        assert all(e[2].status == "done" for e in events if e[0] == "done")
    for a, b in zip(jobs["threads"], jobs["processes"]):
        assert a.dst.read_bytes() == b.dst.read_bytes()
    assert _workers_left() == []


def test_existing_outputs_are_kept_without_overwrite(folder, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.mid").write_bytes(b"mine")
    assert main(["transcribe", str(folder), "-o", str(out), "-j", "1", *FAST]) == 5
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["b.mid"] and (out / "b.mid").read_bytes() == b"mine"
    assert main(["transcribe", str(folder), "-o", str(out), "-j", "1", "--overwrite", *FAST]) == 0
    assert {n.pitch for n in read_midi(out / "b.mid")} >= {50, 55}


def test_folder_and_name_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["transcribe", str(tmp_path / "empty"), "-o", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err.strip()
    assert "no audio files" in err and "\n" not in err
    with pytest.raises(AudioError):
        find_audio([tmp_path / "missing"])
    with pytest.raises(OptionError, match="would both be written"):
        plan([tmp_path / "x.wav", tmp_path / "x.flac"], tmp_path / "out")


def _batch_threads():
    return [t for t in threading.enumerate() if t.name.startswith("unmf-batch")]


def _workers_left(within: float = 5.0) -> list:
    """Worker processes and batch threads still there ``within`` seconds after the run ended (none is expected;
    a process that has ended but is not yet reaped under load is given that long to be)."""
    import time

    deadline = time.monotonic() + within
    while True:
        left = multiprocessing.active_children() + _batch_threads()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@pytest.mark.parametrize("workers, processes", [(1, False), (2, False), (2, True)])
def test_cancel_stops_the_batch_without_partial_files(folder, tmp_path, workers, processes):
    """Cancelled after the first file starts: ``Cancelled``, no half-written MIDI, every worker (thread or
    process) ended."""
    out = tmp_path / "out"
    out.mkdir()
    jobs = [Job(p, out / f"{p.stem}.mid") for p in find_audio([folder])]
    events = []

    def cancel():
        return bool(events)

    with pytest.raises(Cancelled):
        for event in run_batch(jobs, Recipe(method="mu", iterations=400), workers, cancel=cancel,
                               processes=processes):
            events.append(event)
    assert events[0][0] == "start"
    assert not [e for e in events if e[0] == "done"]  # 400 MU steps per file: all stopped mid-file
    assert list(out.iterdir()) == [] and _leftovers(tmp_path) == []
    assert _workers_left() == []


def test_precision_float32_is_the_float32_result(folder, tmp_path, monkeypatch, capsys):
    """``--precision float32`` gives exactly what ``UNMF_PRECISION=float32`` gives; a bad value is a usage error."""
    src = str(folder / "a.wav")
    assert main(["transcribe", src, "-o", str(tmp_path / "flag.mid"), "--precision", "float32"]) == 0
    monkeypatch.setenv("UNMF_PRECISION", "float32")
    assert main(["transcribe", src, "-o", str(tmp_path / "env.mid")]) == 0
    assert (tmp_path / "flag.mid").read_bytes() == (tmp_path / "env.mid").read_bytes()
    monkeypatch.setenv("UNMF_PRECISION", "half")
    assert main(["transcribe", src, "-o", str(tmp_path / "bad.mid")]) == 2
    assert "UNMF_PRECISION" in capsys.readouterr().err and not (tmp_path / "bad.mid").exists()


def test_several_workers_take_the_longest_files_first(tmp_path):
    """With several workers the longest recordings start first; events still name each job by its own index."""
    from unmf_core.transcription.batch import longest_first

    lengths = {"short.wav": 1.0, "long.wav": 3.0, "middle.wav": 2.0}
    for name, seconds in lengths.items():
        sf.write(tmp_path / name, synth_notes([(60, 0.1, seconds - 0.2)], duration=seconds), 22050)
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    jobs = [Job(tmp_path / n, tmp_path / "out" / f"{Path(n).stem}.mid") for n in [*lengths, "broken.wav"]]
    assert longest_first(jobs) == [1, 2, 0, 3]  # an unreadable file counts as empty: it goes last
    (tmp_path / "out").mkdir()
    events = list(run_batch(jobs, Recipe(method="mu", iterations=5), 2))
    assert [i for kind, i, _ in events if kind == "start"] == [1, 2, 0, 3]
    done = {i: o for kind, i, o in events if kind == "done"}
    assert sorted(done) == [0, 1, 2, 3] and all(done[i].job == jobs[i] for i in done)
    assert [done[i].status for i in range(4)] == ["done", "done", "done", "failed"]


def test_the_note_gate_and_adapting_reach_the_files_runs():
    """``--note-gate`` and ``--adapt-to-piece`` go into the :class:`Recipe` every file is run with (the note gate
    was dropped there before 2026-12-03: ``unmf transcribe --note-gate off`` ran with the gate on)."""
    from unmf_core.cli.batch import recipe_of
    from unmf_core.cli.commands import build_parser

    args = build_parser().parse_args(["transcribe", "x.wav", "-o", "x.mid", "--note-gate", "off",
                                      "--adapt-to-piece", "off"])
    r = recipe_of(args)
    assert (r.note_gate, r.adapt_to_piece) == ("off", False)
    r = recipe_of(build_parser().parse_args(["transcribe", "x.wav", "-o", "x.mid"]))
    assert (r.note_gate, r.adapt_to_piece) == ("on", True)
