"""Bundled resources: found through the data package, shipped in the wheel, and never silently replaced."""
import fnmatch
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from unmf_core import resources
from unmf_core.cli import main
from unmf_core.errors import CheckpointError, TemplateError
from unmf_core.transcription.engine import Engine
from unmf_core.transcription.templates import harmonic_templates
from unmf_core.nmf.unrolled import UnrolledConfig, UnrolledMU

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_files_exist():
    for p in (resources.DEFAULT_MODEL, resources.DEFAULT_TEMPLATES, resources.DEMO_AUDIO, resources.DEMO_MIDI):
        assert p.is_file(), p
    assert resources.default_model() == resources.DEFAULT_MODEL


def test_package_data_covers_every_bundled_file():
    """Every file in resources/ matches a package-data pattern, so the wheel holds it."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = cfg[resources.PACKAGE]
    files = [p.relative_to(ROOT / "resources").as_posix() for p in (ROOT / "resources").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.name != "__init__.py"]
    assert files and all(any(fnmatch.fnmatch(f, pat) for pat in patterns) for f in files), files


@pytest.fixture
def no_bundle(monkeypatch, tmp_path):
    monkeypatch.setattr(resources, "DEFAULT_MODEL", tmp_path / "models" / "default.pt")
    monkeypatch.setattr(resources, "DEFAULT_TEMPLATES", tmp_path / "templates" / "default.npz")


def test_missing_bundled_model_is_an_error(no_bundle):
    with pytest.raises(CheckpointError, match="bundled model is missing"):
        Engine(templates=harmonic_templates(), device="cpu")


def test_missing_bundled_templates_is_an_error(no_bundle):
    with pytest.raises(TemplateError, match="bundled templates are missing"):
        Engine(model=UnrolledMU(UnrolledConfig(n_layers=2)), device="cpu")


def test_untrained_model_and_synthetic_templates_only_when_asked_for(no_bundle):
    eng = Engine(templates=harmonic_templates(), model=UnrolledMU(UnrolledConfig(n_layers=2)), device="cpu")
    assert eng.templates.source.startswith("harmonic")


def test_cli_without_the_bundle_fails_with_one_line(no_bundle, tmp_path, capsys):
    out = tmp_path / "x.mid"
    assert main(["transcribe", str(resources.DEMO_AUDIO), "-o", str(out)]) == 4
    err = capsys.readouterr().err.strip()
    assert err.startswith("unmf: error:") and "bundled model is missing" in err and "\n" not in err
    assert not out.exists()


def test_unmf_resources_replaces_the_folder(tmp_path):
    env = {**os.environ, "UNMF_RESOURCES": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", "from unmf_core import resources; print(resources.DEFAULT_MODEL)"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == str(tmp_path / "models" / "default.pt")
