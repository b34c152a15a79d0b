"""unmf's bundled data, installed as the package ``unmf_resources`` (see ``setup.py``).

``models/default.pt`` (the unrolled model), ``templates/default.npz`` (the
templates), ``demo/`` (the demo recording and its MIDI). Code reads them
through :mod:`unmf_core.resources`.
"""
