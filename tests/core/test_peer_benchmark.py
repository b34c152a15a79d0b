"""The speed benchmark against Basic Pitch (benchmarks/peer.py): its parts, without running either program."""
import sys

import pytest

from benchmarks import peer


def test_pieces_takes_one_rendering_per_piece_in_turn(tmp_path):
    root = tmp_path / "set-v1-seed1"
    for font in peer.FONTS:
        (root / font).mkdir(parents=True)
        for i in range(4):
            for room in ("dry", "room"):
                (root / font / f"{i:02d}-random-{room}.flac").write_bytes(b"")
    files = peer.pieces(tmp_path)
    assert [p.relative_to(root).as_posix() for p in files] == [
        "FluidR3/00-random-dry.flac", "MuseScore/01-random-room.flac", "TimGM6mb/02-random-dry.flac",
        "FluidR3/03-random-room.flac"]
    with pytest.raises(FileNotFoundError):
        peer.pieces(tmp_path / "empty")


def test_timed_measures_a_whole_process_and_its_memory():
    r = peer.timed([sys.executable, "-c", "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])"])
    assert r["wall_s"] > 0 and r["peak_process_mb"] > 150 and r["peak_tree_mb"] >= 0
    with pytest.raises(RuntimeError, match="failed"):
        peer.timed([sys.executable, "-c", "raise SystemExit(3)"])


def test_paired_forms_ratios_pair_by_pair_and_writes_a_report(tmp_path):
    calls = []

    def fake(wall, mem):
        def fn():
            calls.append(wall)
            return {"wall_s": wall, "user_s": wall, "sys_s": 0.0, "peak_tree_mb": mem, "peak_process_mb": mem}
        return fn

    r = peer.paired({"unmf": fake(1.0, 100.0), "basic_pitch": fake(2.0, 400.0)}, pairs=3, progress=lambda m: None)
    assert calls == [1.0, 2.0] + [1.0, 2.0] * 3  # warm-up of each, then A B A B A B
    assert r["wall_ratio"] == pytest.approx(0.5) and r["memory_ratio"] == pytest.approx(0.25)
    res = {"files": ["a.flac"], "audio_s": 30.0, "unmf_extra_args": [], "pairs": 3, "cores": 2,
           "load_average_at_start": [1.0, 1.0, 1.0], "load_average_at_end": [1.0, 1.0, 1.0], "batch": r,
           "single": r, "machine": {"cpu": "x", "cores": 2, "torch": "t", "gpu": None}}
    md, js = peer.write(res, tmp_path)
    text = md.read_text()
    assert "**0.50×**" in text and "0.25×" in text and js.is_file()


def test_jobs_flag_is_a_list_of_arguments():
    flag = peer.unmf_jobs_flag()
    assert flag == [] or (flag[0] in ("-j", "--jobs") and int(flag[1]) >= 1)


def test_startup_times_help_and_a_first_run_against_the_second(tmp_path, monkeypatch):
    from benchmarks import startup

    monkeypatch.setattr(startup, "HELP_RUNS", 1)
    res = startup.run(pairs=1, progress=lambda m: None)
    assert len(res["help_s"]) == 1 and 0 < res["help_median_s"] < 30
    assert len(res["first_over_second"]) == 1
    assert res["first_over_second_median"] == pytest.approx(res["first_s"][0] / res["second_s"][0])
    text = "\n".join(startup.lines(res))
    assert "--help" in text and f"**{res['first_over_second_median']:.2f}×**" in text
