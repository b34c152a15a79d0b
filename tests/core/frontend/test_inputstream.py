"""Input streams: file and (faked) microphone deliver the same blocks through one path."""
from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from unmf_core.errors import AudioError
from unmf_core.frontend import inputstream as ins
from unmf_core.frontend.audio import Audio
from unmf_core.frontend.inputstream import (FileStream, InputStream, InputUnavailable, MicrophoneStream,
                                            list_input_devices, microphone_status)
from unmf_core.frontend.recorder import Recorder


def tone(seconds=0.5, sr=22050, f=440.0, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)



def test_file_stream_delivers_every_sample_in_blocks(tmp_path):
    y = tone(0.5)
    path = tmp_path / "a.wav"
    sf.write(path, y, 22050, subtype="FLOAT")
    seen = []
    stream = FileStream(path, blocksize=1000, on_block=seen.append)
    assert isinstance(stream, InputStream)
    stream.start()
    blocks = []
    while (b := stream.read(timeout=5)) is not None:
        blocks.append(b)
    assert stream.ended and stream.read(timeout=0) is None
    assert [len(b) for b in blocks] == [1000] * 11 + [len(y) - 11000]
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), y)
    assert len(seen) == len(blocks) and all(a is b for a, b in zip(seen, blocks, strict=True))


def test_file_stream_mixes_stereo_to_mono_and_resamples(tmp_path):
    y = tone(0.4, sr=44100)
    path = tmp_path / "st.wav"
    sf.write(path, np.stack([y, 0 * y], axis=1), 44100, subtype="FLOAT")
    audio = Recorder(FileStream(path)).record()
    assert audio.sr == 44100 and len(audio.samples) == len(y)
    np.testing.assert_allclose(audio.samples, y / 2, atol=1e-6)
    assert Recorder(FileStream(path, sr=22050)).record().sr == 22050
    assert Recorder(FileStream(Audio(y, 44100))).record().duration == pytest.approx(0.4, abs=1e-3)



@pytest.mark.slow  # measures wall-clock pacing: in the slow set, not the fast suite
def test_realtime_file_stream_is_paced_and_can_be_stopped_midway():
    audio = Audio(tone(2.0), 22050)
    rec = Recorder(FileStream(audio, blocksize=512, realtime=True))
    rec.start()
    t0 = time.monotonic()
    while rec.seconds < 0.2:
        rec.poll()
        time.sleep(0.01)
    kept = rec.stop()
    elapsed = time.monotonic() - t0
    # paced like a microphone: 0.2 s of sound cannot arrive sooner than ~0.2 s (lower bound only)
    assert elapsed >= 0.15
    assert 0.2 <= kept.duration < 2.0 and rec.finished
    np.testing.assert_array_equal(kept.samples, audio.samples[:len(kept.samples)])



def test_a_producer_error_ends_the_stream_and_is_reported():
    def bad(_block):
        raise RuntimeError("meter broke")

    rec = Recorder(FileStream(Audio(tone(0.3), 22050), on_block=bad))
    with pytest.raises(AudioError, match="meter broke"):
        rec.record()


# ---- the microphone, with a fake sounddevice (no sound card needed) -------------------------------------------
class FakeSoundDevice:
    """Enough of sounddevice: two inputs (one default), one output, an InputStream calling back from a thread."""

    class PortAudioError(Exception):
        pass

    def __init__(self, signal, default_input=2, fail_start=False):
        self.signal = signal
        self.fail_start = fail_start
        self.default = type("D", (), {"device": [default_input, 0]})()
        self.opened = []
        self._devices = [{"name": "speakers", "max_input_channels": 0, "max_output_channels": 2,
                          "default_samplerate": 48000.0},
                         {"name": "usb mic", "max_input_channels": 1, "default_samplerate": 44100.0},
                         {"name": "built-in", "max_input_channels": 2, "default_samplerate": 48000.0}]

    def query_devices(self, device=None, kind=None):
        if kind is None:
            return self._devices
        index = self.default.device[0] if device is None else device
        if index is None or index < 0:
            raise self.PortAudioError("Error querying device -1")
        return self._devices[index]

    def InputStream(self, **kw):  # noqa: N802 (sounddevice's name)
        fake = self
        fake.opened.append(kw)
        if fake.fail_start:
            raise fake.PortAudioError("Device unavailable")

        class Stream:
            def __init__(self):
                self.halt = threading.Event()
                self.thread = threading.Thread(target=self.run)

            def run(self):
                n = kw["blocksize"]
                for a in range(0, len(fake.signal), n):
                    if self.halt.is_set():
                        return
                    block = fake.signal[a:a + n, None]
                    kw["callback"](np.repeat(block, kw["channels"], axis=1), len(block), None, None)
                kw["finished_callback"]()

            def start(self):
                self.thread.start()

            def stop(self):
                self.halt.set()
                self.thread.join()

            def close(self):
                pass

        return Stream()


@pytest.fixture
def fake_sd(monkeypatch):
    fake = FakeSoundDevice(tone(0.5, sr=48000))
    monkeypatch.setattr(ins, "_sounddevice", lambda: fake)
    return fake


def test_input_devices_are_listed_default_first(fake_sd):
    devices = list_input_devices()
    assert [d.name for d in devices] == ["built-in", "usb mic"]
    assert devices[0].is_default and str(devices[0]) == "built-in (default)" and devices[0].default_sr == 48000
    assert microphone_status() == (devices, "")


def test_microphone_and_file_go_through_the_same_recorder(fake_sd):
    mic = MicrophoneStream(blocksize=480)
    assert isinstance(mic, InputStream) and mic.sr == 48000 and mic.name == "built-in"
    from_mic = Recorder(mic).record()
    assert fake_sd.opened[0]["samplerate"] == 48000 and fake_sd.opened[0]["channels"] == 1
    from_file = Recorder(FileStream(Audio(fake_sd.signal, 48000), blocksize=480)).record()
    np.testing.assert_array_equal(from_mic.samples, from_file.samples)
    np.testing.assert_array_equal(from_mic.samples, fake_sd.signal)
    assert MicrophoneStream(device=1, sr=22050).sr == 22050


def test_no_default_input_device_is_a_clear_error(fake_sd):
    fake_sd.default.device = [-1, 0]
    with pytest.raises(InputUnavailable, match="no default input device"):
        MicrophoneStream()
    with pytest.raises(InputUnavailable, match="cannot record"):
        MicrophoneStream(device=0)  # an output-only device
    fake_sd._devices = fake_sd._devices[:1]
    assert microphone_status() == ([], "no audio input: no microphone or other input device was found")


def test_a_device_that_fails_to_open_is_a_clear_error(fake_sd):
    fake_sd.fail_start = True
    mic = MicrophoneStream()
    with pytest.raises(InputUnavailable, match="cannot record from built-in: Device unavailable"):
        Recorder(mic).start()


def test_missing_portaudio_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails as without the PortAudio library
    with pytest.raises(InputUnavailable, match="PortAudio is not available.*libportaudio2"):
        MicrophoneStream()
    devices, reason = microphone_status()
    assert devices == [] and "PortAudio" in reason


def test_status_on_this_machine_is_consistent():
    devices, reason = microphone_status()
    assert bool(devices) != bool(reason)
