"""pyqtgraph views of the app: spectrograms, piano rolls, templates, divergence, compare."""
