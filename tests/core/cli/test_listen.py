"""``unmf listen``: a replayed file to MIDI; no microphone → one line and exit 6."""
from __future__ import annotations

from unmf_core.cli.commands import main
from unmf_core.transcription.engine import DEMO_AUDIO
from unmf_core.transcription.notes import read_midi


def test_listen_replays_a_file_to_midi(tmp_path, capsys):
    out = tmp_path / "take.mid"
    assert main(["listen", "--input", str(DEMO_AUDIO), "--no-realtime", "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert "+ " in printed.out and "- " in printed.out
    assert len(read_midi(out)) > 20
    assert main(["listen", "--input", str(DEMO_AUDIO), "--no-realtime", "-o", str(out)]) == 5  # no overwrite


def test_listen_without_a_microphone_is_one_line(monkeypatch, capsys):
    from unmf_core.frontend import inputstream

    def missing():
        raise inputstream.InputUnavailable("no audio input: PortAudio is not available (test)")

    monkeypatch.setattr(inputstream, "_sounddevice", missing)
    assert main(["listen"]) == 6
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["unmf: error: no audio input: PortAudio is not available (test)"]


def test_listen_usage_errors(tmp_path):
    assert main(["listen", "--no-realtime"]) == 2
    assert main(["listen", "--input", str(DEMO_AUDIO), "-o", str(tmp_path / "x.txt")]) == 2
