"""Untrusted checkpoints and templates: nothing runs on load, and what does not fit is refused by name."""
from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest
import torch

from unmf_core.io.checkpoints import load_checkpoint, save_checkpoint
from unmf_core.cli import main
from unmf_core.frontend.cqt import CQTParams
from unmf_core.errors import CheckpointError, TemplateError
from unmf_core.transcription.engine import Engine
from unmf_core.transcription.templates import harmonic_templates, read_templates
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU

MARKER_ENV = "UNMF_TEST_PAYLOAD_MARKER"


class Payload:
    """Unpickling this calls os.system: it would create the marker file if it ever ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


class EvalPayload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return eval, (f"open({self.marker!r}, 'w').close()",)


def _good(tmp_path, name="good.pt", **cfg):
    model = UnrolledMU(UnrolledConfig(n_layers=2, hidden=4, **cfg))
    path = tmp_path / name
    save_checkpoint(path, model, CQTParams(), harmonic_templates().W, "harmonic")
    return path


def _raw(path) -> dict:
    return torch.load(str(path), weights_only=True)


def _save_raw(obj, path):
    torch.save(obj, str(path))
    return path


@pytest.mark.parametrize("payload", [Payload, EvalPayload])
@pytest.mark.parametrize("where", ["top", "inside_state_dict", "as_meta"])
def test_code_running_pickle_is_refused(tmp_path, payload, where):
    marker = tmp_path / "PAYLOAD_RAN"
    good = _raw(_good(tmp_path))
    if where == "top":
        obj = payload(marker)
    elif where == "inside_state_dict":
        obj = {**good, "state_dict": {**good["state_dict"], "evil": payload(marker)}}
    else:
        obj = {**good, "meta": {"note": payload(marker)}}
    path = _save_raw(obj, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert msg.startswith("evil.pt: refused") and "would run code" in msg
    assert "weights_only" not in msg and "\n" not in msg  # no advice to load it unsafely
    assert ("system" in msg) or ("eval" in msg)
    assert not marker.exists()


def test_code_running_pickle_through_engine_and_cli(tmp_path, capsys):
    marker = tmp_path / "PAYLOAD_RAN"
    path = _save_raw(Payload(marker), tmp_path / "evil model.pt")
    with pytest.raises(CheckpointError, match="refused"):
        Engine(model=path, device="cpu")
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"")  # never reached: the model is loaded first
    rc = main(["transcribe", str(wav), "-o", str(tmp_path / "o.mid"), "--model", str(path)])
    assert rc == CheckpointError.exit_code == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("unmf: error: evil model.pt: refused"), err
    assert not marker.exists()


def _edit(tmp_path, change, name="bad.pt"):
    obj = _raw(_good(tmp_path))
    change(obj)
    return _save_raw(obj, tmp_path / name)


def _first_weight(obj):
    return next(k for k, v in obj["state_dict"].items() if v.ndim == 3)


def _wrong_shape(obj):
    k = _first_weight(obj)
    obj["state_dict"][k] = torch.zeros(3, 3, 3)
    obj["_key"] = k


def _missing_key(obj):
    k = _first_weight(obj)
    del obj["state_dict"][k]
    obj["_key"] = k


def _nan_weight(obj):
    k = _first_weight(obj)
    obj["state_dict"][k] = torch.full_like(obj["state_dict"][k], float("nan"))
    obj["_key"] = k


def _inf_weight(obj):
    k = _first_weight(obj)
    obj["state_dict"][k] = obj["state_dict"][k].clone()
    obj["state_dict"][k][0, 0, 0] = float("inf")
    obj["_key"] = k


def _unexpected_key(obj):
    obj["state_dict"]["layers.0.extra.weight"] = torch.zeros(2)
    obj["_key"] = "layers.0.extra.weight"


#: name → (change to a good checkpoint, words the message must hold)
BROKEN = {
    "wrong_shape": (_wrong_shape, ["size mismatch", "{key}"]),
    "missing_key": (_missing_key, ["Missing key", "{key}"]),
    "unexpected_key": (_unexpected_key, ["Unexpected key", "{key}"]),
    "nan_weights": (_nan_weight, ["{key}", "NaN"]),
    "inf_weights": (_inf_weight, ["{key}", "infinite"]),
    "no_config": (lambda o: o.pop("config"), ["lacks config"]),
    "no_state_dict": (lambda o: o.pop("state_dict"), ["lacks state_dict"]),
    "no_cqt": (lambda o: o.pop("cqt"), ["lacks cqt"]),
    "state_dict_not_a_dict": (lambda o: o.update(state_dict=[1, 2]), ["state_dict"]),
    "bad_head": (lambda o: o["config"].update(head="bogus"), ["head"]),
    "too_many_layers": (lambda o: o["config"].update(n_layers=10 ** 7), ["n_layers"]),
    "zero_hidden": (lambda o: o["config"].update(hidden=0), ["hidden"]),
    "layers_not_a_number": (lambda o: o["config"].update(n_layers="ten"), ["n_layers"]),
    "cqt_not_numbers": (lambda o: o["cqt"].update(n_bins="many"), ["malformed"]),
    "templates_wrong_shape": (lambda o: o.update(templates=torch.zeros(10, 88)), ["templates", "(10, 88)"]),
    "templates_nan": (lambda o: o.update(templates=torch.full((288, 88), float("nan"))), ["templates", "NaN"]),
    "notes_not_a_dict": (lambda o: o.update(notes=[0.1]), ["note settings"]),
    "notes_unknown_field": (lambda o: o.update(notes={"threshold": 0.1, "run": "rm"}), ["note settings"]),
    "notes_threshold_too_big": (lambda o: o.update(notes={"threshold": 5.0}), ["threshold"]),
    "notes_threshold_nan": (lambda o: o.update(notes={"threshold": float("nan")}), ["threshold"]),
    "notes_text": (lambda o: o.update(notes={"min_duration": "long"}), ["min_duration"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_checkpoint_is_refused_by_name(tmp_path, case):
    change, words = BROKEN[case]
    holder = {}

    def apply(obj):
        change(obj)
        holder["key"] = obj.pop("_key", "")

    path = _edit(tmp_path, apply)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert msg.startswith("bad.pt: ") and "\n" not in msg
    for w in words:
        assert w.format(key=holder["key"]) in msg, (case, msg)


def test_other_cqt_is_refused_with_both_settings(tmp_path):
    path = _good(tmp_path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, CQTParams(bins_per_octave=24, n_bins=192))
    msg = str(info.value)
    assert "another CQT" in msg and "288" in msg and "192" in msg and "24" in msg


def test_model_for_other_cqt_with_standard_templates_is_refused(tmp_path):
    model = UnrolledMU(UnrolledConfig(n_layers=2, hidden=4))
    other = CQTParams(bins_per_octave=24, n_bins=192)
    path = tmp_path / "other.pt"
    save_checkpoint(path, model, other, None, "")
    with pytest.raises((CheckpointError, TemplateError)) as info:
        Engine(model=path, templates=harmonic_templates(CQTParams()), device="cpu")
    assert "frequency axis" in str(info.value) or "another CQT" in str(info.value)


def test_model_for_other_cqt_with_its_own_templates_works(tmp_path):
    """A model trained on another CQT, shipped with its templates, is consistent and usable."""
    other = CQTParams(bins_per_octave=24, n_bins=192)
    path = tmp_path / "other.pt"
    save_checkpoint(path, UnrolledMU(UnrolledConfig(n_layers=2, hidden=4)), other, harmonic_templates(other).W, "h")
    eng = Engine(model=path, device="cpu")
    assert eng.cqt.n_bins == 192 and eng.templates.W.shape == (192, 88)


@pytest.mark.parametrize("content, words", [
    (b"", "not a readable checkpoint"),
    (b"\x00" * 100, "not a readable checkpoint"),
    (b"PK\x03\x04 truncated zip", "not a readable checkpoint"),
])
def test_unreadable_checkpoint(tmp_path, content, words):
    p = tmp_path / "bad.pt"
    p.write_bytes(content)
    with pytest.raises(CheckpointError, match=words):
        load_checkpoint(p)


def test_truncated_checkpoint(tmp_path):
    good = _good(tmp_path).read_bytes()
    p = tmp_path / "bad.pt"
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(p)


def test_not_a_dict_and_no_model(tmp_path):
    with pytest.raises(CheckpointError, match="holds a Tensor"):
        load_checkpoint(_save_raw(torch.zeros(3), tmp_path / "t.pt"))
    with pytest.raises(CheckpointError, match="no unrolled-model parameters"):
        load_checkpoint(_save_raw({"weight": torch.zeros(3)}, tmp_path / "w.pt"))


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "none.pt")


def test_good_checkpoint_round_trips(tmp_path):
    ck = load_checkpoint(_good(tmp_path))
    assert ck.kind == "unmf" and ck.model.cfg.n_layers == 2 and ck.templates.shape == (288, 88)
    assert ck.notes is None


def test_calibrated_note_settings_round_trip(tmp_path):
    from unmf_core.transcription.notes import NoteParams

    ck = load_checkpoint(_good(tmp_path))
    save_checkpoint(tmp_path / "cal.pt", ck.model, CQTParams(), ck.templates, notes=NoteParams(threshold=0.085))
    assert load_checkpoint(tmp_path / "cal.pt").notes == NoteParams(threshold=0.085)


# ---- templates ----------------------------------------------------------------------------------

def _npz(path, **arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())
    return path


def _cqt_json(params=CQTParams()):
    return np.array(json.dumps(params.to_dict()))


def _object_array_npz(path, marker):
    """An .npz whose W is a pickled object array that would run code if loaded with pickle."""
    buf = io.BytesIO()
    np.save(buf, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("W.npy", buf.getvalue())
        z.writestr("cqt.npy", _npy(_cqt_json()))
    return path


def _npy(arr) -> bytes:
    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()


W = harmonic_templates().W

#: name → (builder(path), words the message must hold)
BAD_TEMPLATES = {
    "random_bytes": (lambda p: p.write_bytes(os.urandom(200)) and p, "not a templates file"),
    "empty": (lambda p: p.write_bytes(b"") or p, "not a templates file"),
    "no_W": (lambda p: _npz(p, cqt=_cqt_json()), "not a templates file"),
    "no_cqt": (lambda p: _npz(p, W=W), "not a templates file"),
    "wrong_shape": (lambda p: _npz(p, W=W[:, :80], cqt=_cqt_json()), "shape (288, 80)"),
    "one_dimensional": (lambda p: _npz(p, W=W[:, 0], cqt=_cqt_json()), "shape (288,)"),
    "nan": (lambda p: _npz(p, W=np.where(W > 0.5, np.nan, W), cqt=_cqt_json()), "non-finite"),
    "negative": (lambda p: _npz(p, W=-W, cqt=_cqt_json()), "negative"),
    "other_cqt": (lambda p: _npz(p, W=harmonic_templates(CQTParams(bins_per_octave=24, n_bins=192)).W,
                                 cqt=_cqt_json(CQTParams(bins_per_octave=24, n_bins=192))), "another CQT"),
    "bad_cqt_json": (lambda p: _npz(p, W=W, cqt=np.array("{not json")), "not a templates file"),
    "strings_as_W": (lambda p: _npz(p, W=np.array(["a", "b"]), cqt=_cqt_json()), "not a templates file"),
}


@pytest.mark.parametrize("case", sorted(BAD_TEMPLATES))
def test_bad_templates_are_refused(tmp_path, case):
    make, words = BAD_TEMPLATES[case]
    p = tmp_path / "t.npz"
    make(p)
    with pytest.raises(TemplateError) as info:
        read_templates(p, CQTParams())
    msg = str(info.value)
    assert "t.npz" in msg and words in msg and "\n" not in msg, msg


def test_object_array_templates_do_not_run_code(tmp_path):
    marker = tmp_path / "PAYLOAD_RAN"
    p = _object_array_npz(tmp_path / "t.npz", marker)
    with pytest.raises(TemplateError, match="not a templates file"):
        read_templates(p, CQTParams())
    assert not marker.exists()


def test_bad_templates_through_cli(tmp_path, capsys):
    p = tmp_path / "t.npz"
    _npz(p, W=W[:, :80], cqt=_cqt_json())
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"")
    rc = main(["transcribe", str(wav), "-o", str(tmp_path / "o.mid"), "--templates", str(p)])
    assert rc == TemplateError.exit_code == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("unmf: error: t.npz: W has shape"), err
