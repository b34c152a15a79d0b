"""Recording from an input stream: level meter, polled and blocking recorder, cancel, limits, silence."""
from __future__ import annotations

import time

import numpy as np
import pytest

from unmf_core.errors import AudioError, Cancelled
from unmf_core.frontend.audio import Audio
from unmf_core.frontend.inputstream import BlockStream, FileStream
from unmf_core.frontend.recorder import FLOOR_DB, Level, Recorder, block_level


def tone(seconds=0.5, sr=22050, f=440.0, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)


def test_block_level_of_a_sine_silence_and_an_empty_block():
    lvl = block_level(tone(amp=0.5))
    assert lvl.peak_db == pytest.approx(-6.02, abs=0.05)
    assert lvl.rms_db == pytest.approx(-9.03, abs=0.05)
    assert not lvl.clipped and block_level(np.ones(10)).clipped
    assert block_level(np.zeros(100)) == Level(FLOOR_DB, FLOOR_DB)
    assert block_level(np.zeros(0)).peak_db == FLOOR_DB
    stereo = np.stack([tone(amp=0.25), tone(amp=0.25)], axis=1)
    assert block_level(stereo).peak_db == pytest.approx(-12.04, abs=0.05)
    assert block_level(np.array([0.0, np.nan])).peak_db == 0.0  # a broken sample shows as full scale


def test_recorder_resamples_on_request():
    audio = Recorder(FileStream(Audio(tone(0.5, sr=44100), 44100))).record()
    out = Recorder(FileStream(audio)).record().samples
    assert len(out) == len(audio.samples)
    rec = Recorder(FileStream(audio))
    rec.record()
    assert rec.audio(sr=22050).sr == 22050 and abs(len(rec.audio(sr=22050).samples) - 11025) <= 1


def test_recorder_polled_collects_levels_until_the_stream_ends():
    y = np.concatenate([tone(0.2, amp=0.1), tone(0.2, amp=0.8)])
    rec = Recorder(FileStream(Audio(y, 22050), blocksize=2205))
    rec.start()
    levels = []
    deadline = time.monotonic() + 10
    while not rec.finished and time.monotonic() < deadline:
        levels += rec.poll()
    assert rec.finished and len(levels) == 4
    assert levels[0].peak_db == pytest.approx(-20, abs=0.1) and levels[-1].peak_db == pytest.approx(-1.94, abs=0.1)
    np.testing.assert_array_equal(rec.stop().samples, y)


def test_recorder_cancel_discards_and_record_cancels_between_blocks():
    rec = Recorder(FileStream(Audio(tone(1.0), 22050), realtime=True))
    rec.start()
    rec.cancel()
    assert rec.cancelled and rec.finished
    with pytest.raises(Cancelled):
        rec.audio()
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    rec = Recorder(FileStream(Audio(tone(5.0), 22050), realtime=True))
    with pytest.raises(Cancelled):
        rec.record(cancel=cancel)
    assert rec.stream.ended and rec.seconds == 0


def test_a_block_that_arrives_with_the_end_of_the_stream_is_kept():
    class Racy(BlockStream):
        """The last block and the end arrive while the recorder's read finds the queue empty."""

        fed = False

        def start(self):
            pass

        def stop(self):
            self._finish()

        def read(self, timeout=None):
            if not self.fed:
                self.fed = True
                self.feed(np.full(100, 0.5, np.float32))
                self._finish()
                return None
            return super().read(timeout)

    rec = Recorder(Racy(22050))
    rec.start()
    while not rec.finished:
        rec.poll()
    assert rec.seconds == pytest.approx(100 / 22050)


def test_recorder_stops_at_its_length_limit():
    rec = Recorder(FileStream(Audio(tone(1.0), 22050), blocksize=1000), max_seconds=0.25)
    audio = rec.record()
    assert len(audio.samples) == int(0.25 * 22050) and rec.finished


@pytest.mark.parametrize("signal, reason", [(np.zeros(22050, np.float32), "silent"),
                                            (np.full(22050, 1e-4, np.float32), "silent"),
                                            (np.zeros(0, np.float32), "nothing was recorded")])
def test_a_silent_or_empty_recording_is_a_clear_error(signal, reason):
    rec = Recorder(FileStream(Audio(signal, 22050)))
    with pytest.raises(AudioError, match=reason):
        rec.record()
