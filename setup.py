"""Packages of unmf (everything else is in pyproject.toml).

The top-level ``resources/`` folder (model, templates, demo) is installed as
the data package ``unmf_resources``; pyproject.toml alone cannot map a folder
to a package name next to automatic package discovery.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["unmf_core", "unmf_core.*", "unmf_gui", "unmf_gui.*"]) + ["unmf_resources"],
    package_dir={"unmf_resources": "resources"},
)
