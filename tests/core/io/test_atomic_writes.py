"""Files are never half-written: every writer goes through a temporary file and a rename.

A failure at any point (no permission to create the temporary file, disk full
while writing it, rename refused) must raise :class:`OutputError` with a clear
message, leave the previous file byte-identical and leave no temporary file.
Tests run as root here, where ``chmod`` does not block writes, so read-only
folders and full disks are simulated by making the OS calls fail.
"""
from __future__ import annotations

import errno
import os
import tempfile

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import synth_notes
from unmf_core.io import atomic as uio
from unmf_core.frontend.audio import save_audio
from unmf_core.io.checkpoints import load_checkpoint, save_checkpoint
from unmf_core.cli import main
from unmf_core.frontend.cqt import CQTParams
from unmf_core.errors import OutputError
from unmf_core.transcription.notes import Note, read_midi, write_csv, write_midi
from unmf_core.transcription.templates import harmonic_templates, read_templates
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU

NOTES = [Note(60, 0.1, 0.5, 90), Note(64, 0.3, 0.9, 70)]


def _model():
    return UnrolledMU(UnrolledConfig(n_layers=2, hidden=4))


#: name → writer(path) of one file type, each through its public function
WRITERS = {
    "bytes": lambda p: uio.write_bytes_atomic(p, b"new content"),
    "midi": lambda p: write_midi(NOTES, p),
    "csv": lambda p: write_csv(NOTES, p),
    "templates": lambda p: harmonic_templates(CQTParams()).save(p),
    "checkpoint": lambda p: save_checkpoint(p, _model(), CQTParams()),
    "audio": lambda p: save_audio(p, np.zeros(100, np.float32) + 0.1, 22050),
}
SUFFIX = {"bytes": ".bin", "midi": ".mid", "csv": ".csv", "templates": ".npz", "checkpoint": ".pt", "audio": ".wav"}


def _fail(code):
    def boom(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return boom


#: name → (object, attribute, replacement, words the message must hold)
FAULTS = {
    "mkstemp_permission": (tempfile, "mkstemp", _fail(errno.EACCES), "permission denied"),
    "mkstemp_read_only_fs": (tempfile, "mkstemp", _fail(errno.EROFS), "permission denied"),
    "replace_disk_full": (os, "replace", _fail(errno.ENOSPC), "disk full"),
    "replace_permission": (os, "replace", _fail(errno.EPERM), "permission denied"),
    "chmod_permission": (os, "chmod", _fail(errno.EACCES), "permission denied"),
}


def _leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_failure_keeps_old_file(tmp_path, monkeypatch, kind, fault):
    target = tmp_path / f"out{SUFFIX[kind]}"
    target.write_bytes(b"OLD VERSION")
    obj, attr, repl, words = FAULTS[fault]
    monkeypatch.setattr(obj, attr, repl)
    with pytest.raises(OutputError) as info:
        WRITERS[kind](target)
    monkeypatch.undo()
    msg = str(info.value)
    assert target.name in msg and words in msg and "\n" not in msg
    assert target.read_bytes() == b"OLD VERSION"
    assert _leftovers(tmp_path, target.name) == []


def _disk_full_while_writing(monkeypatch):
    """Let the first write to a temporary file fail half-way as a full disk does."""
    real_open = open

    class Half:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def fake_open(path, mode="r", *args, **kwargs):
        fh = real_open(path, mode, *args, **kwargs)
        return Half(fh) if ".part" in str(path) and "w" in mode else fh

    monkeypatch.setattr("builtins.open", fake_open)


@pytest.mark.parametrize("kind", ["bytes", "midi", "csv", "templates", "checkpoint"])
def test_disk_full_mid_write_keeps_old_file(tmp_path, monkeypatch, kind):
    target = tmp_path / f"out{SUFFIX[kind]}"
    target.write_bytes(b"OLD VERSION")
    _disk_full_while_writing(monkeypatch)
    with pytest.raises(OutputError, match="disk full"):
        WRITERS[kind](target)
    monkeypatch.undo()
    assert target.read_bytes() == b"OLD VERSION"
    assert _leftovers(tmp_path, target.name) == []


def test_error_inside_the_writer_leaves_nothing(tmp_path):
    target = tmp_path / "x.wav"
    target.write_bytes(b"OLD")
    with pytest.raises(ValueError):
        with uio.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise ValueError("encoder failed")
    assert target.read_bytes() == b"OLD"
    assert _leftovers(tmp_path, "x.wav") == []


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_success_writes_a_loadable_file(tmp_path, kind):
    target = tmp_path / f"out{SUFFIX[kind]}"
    target.write_bytes(b"OLD VERSION")
    WRITERS[kind](target)
    assert target.read_bytes() != b"OLD VERSION"
    assert _leftovers(tmp_path, target.name) == []
    loaders = {"midi": read_midi, "templates": lambda p: read_templates(p, CQTParams()),
               "checkpoint": load_checkpoint, "audio": lambda p: sf.read(str(p))}
    if kind in loaders:
        loaders[kind](target)


def test_refuses_to_overwrite_without_permission(tmp_path):
    target = tmp_path / "x.mid"
    target.write_bytes(b"OLD")
    with pytest.raises(OutputError, match="already exists"):
        write_midi(NOTES, target, overwrite=False)
    assert target.read_bytes() == b"OLD"


def test_missing_folder_and_folder_target(tmp_path):
    with pytest.raises(OutputError, match="no such folder"):
        write_midi(NOTES, tmp_path / "missing" / "x.mid")
    (tmp_path / "d.mid").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        write_midi(NOTES, tmp_path / "d.mid")


def test_new_file_gets_default_mode_and_replacement_keeps_mode(tmp_path):
    p = tmp_path / "x.csv"
    write_csv(NOTES, p)
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask
    os.chmod(p, 0o600)
    write_csv(NOTES, p)
    assert p.stat().st_mode & 0o777 == 0o600


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_real_read_only_folder(tmp_path):
    target = tmp_path / "x.mid"
    target.write_bytes(b"OLD")
    os.chmod(tmp_path, 0o555)
    try:
        with pytest.raises(OutputError, match="permission denied"):
            write_midi(NOTES, target)
    finally:
        os.chmod(tmp_path, 0o755)
    assert target.read_bytes() == b"OLD"


# ---- the CLI ------------------------------------------------------------------------------------

@pytest.fixture
def wav(tmp_path):
    p = tmp_path / "in.wav"
    sf.write(str(p), synth_notes([(60, 0.1, 0.6)]), 22050)
    return p


def _err_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("unmf: error: "), err
    return err[0]


def test_cli_refuses_to_overwrite(tmp_path, wav, capsys):
    out = tmp_path / "out.mid"
    out.write_bytes(b"OLD")
    assert main(["transcribe", str(wav), "-o", str(out), "--method", "mu", "--iterations", "3"]) == 5
    assert "already exists" in _err_line(capsys)
    assert out.read_bytes() == b"OLD"
    assert main(["transcribe", str(wav), "-o", str(out), "--method", "mu", "--iterations", "3", "--overwrite"]) == 0
    assert read_midi(out) is not None and out.read_bytes() != b"OLD"


def test_cli_refusal_names_the_file_and_the_option(tmp_path, wav, capsys):
    out = tmp_path / "out.mid"
    out.write_bytes(b"OLD")
    main(["transcribe", str(wav), "-o", str(out)])
    line = _err_line(capsys)
    assert "out.mid" in line and "already exists" in line and "--overwrite" in line


def test_cli_several_inputs_refuse_before_any_work(tmp_path, wav, capsys):
    folder = tmp_path / "outs"
    folder.mkdir()
    second = tmp_path / "second.wav"
    second.write_bytes(wav.read_bytes())
    (folder / "second.mid").write_bytes(b"OLD")
    assert main(["transcribe", str(wav), str(second), "-o", str(folder)]) == 5
    assert "second.mid" in _err_line(capsys)
    assert sorted(p.name for p in folder.iterdir()) == ["second.mid"]  # in.mid was not written either
    assert (folder / "second.mid").read_bytes() == b"OLD"


def test_cli_missing_output_folder_fails_before_work(tmp_path, wav, capsys):
    assert main(["transcribe", str(wav), "-o", str(tmp_path / "nope" / "x.mid")]) == 5
    assert "no such folder" in _err_line(capsys)


def test_cli_disk_full_keeps_old_output(tmp_path, wav, capsys, monkeypatch):
    out = tmp_path / "out.mid"
    out.write_bytes(b"OLD")
    monkeypatch.setattr(os, "replace", _fail(errno.ENOSPC))
    assert main(["transcribe", str(wav), "-o", str(out), "--overwrite", "--method", "mu", "--iterations", "3"]) == 5
    monkeypatch.undo()
    line = _err_line(capsys)
    assert "out.mid" in line and "disk full" in line and "unchanged" in line
    assert out.read_bytes() == b"OLD"
    assert _leftovers(tmp_path, "out.mid") == ["in.wav"]


def test_cli_evaluate_refuses_to_overwrite_json(tmp_path, wav, capsys):
    a, m = tmp_path / "a", tmp_path / "m"
    a.mkdir()
    m.mkdir()
    (a / "in.wav").write_bytes(wav.read_bytes())
    write_midi([Note(60, 0.1, 0.6)], m / "in.mid")
    js = tmp_path / "ev.json"
    js.write_text("OLD")
    args = ["evaluate", "--audio-dir", str(a), "--midi-dir", str(m), "--json", str(js), "--method", "mu",
            "--iterations", "3"]
    assert main(args) == 5
    assert "ev.json" in _err_line(capsys)
    assert js.read_text() == "OLD"
    assert main(args + ["--overwrite"]) == 0
    assert js.read_text().startswith("{")


def test_cli_templates_refuses_to_overwrite(tmp_path, capsys):
    folder = tmp_path / "notes"
    folder.mkdir()
    sf.write(str(folder / "A4.wav"), synth_notes([(69, 0.0, 0.5)]), 22050)
    out = tmp_path / "t.npz"
    out.write_bytes(b"OLD")
    assert main(["templates", str(folder), "-o", str(out)]) == 5
    assert "t.npz" in _err_line(capsys)
    assert out.read_bytes() == b"OLD"
    assert main(["templates", str(folder), "-o", str(out), "--overwrite"]) == 0
    assert read_templates(out).W.shape == (288, 88)
