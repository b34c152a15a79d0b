"""Packaging: entry points, version, and one list of the Debian packages (launcher, .ci/run, README)."""
import importlib
import re
import tomllib
from pathlib import Path

import pytest

import unmf_core
from unmf_gui.launch import QT_DEBIAN_PACKAGES

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.mark.parametrize("table, name", [("scripts", "unmf"), ("gui-scripts", "unmf-gui")])
def test_entry_points_name_importable_functions(table, name):
    module, func = PYPROJECT["project"][table][name].split(":")
    assert callable(getattr(importlib.import_module(module), func))


def test_version_has_one_source():
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "unmf_core.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", unmf_core.__version__)


def test_ci_and_readme_install_the_debian_packages_the_launcher_names():
    ci = (ROOT / ".ci" / "run").read_text()
    listed = set(re.search(r'DEBIAN_PACKAGES="([^"]*)"', ci).group(1).replace("\\\n", " ").split())
    assert set(QT_DEBIAN_PACKAGES) | {"libportaudio2"} == listed
    readme = (ROOT / "README.md").read_text()
    install = re.search(r"sudo apt-get install (.*?)\n(?!\s)", readme, re.S).group(1).replace("\\\n", " ").split()
    assert listed <= set(install)
