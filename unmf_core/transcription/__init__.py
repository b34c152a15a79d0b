"""From a spectrogram to notes: the :class:`~unmf_core.transcription.engine.Engine`, the methods it runs,
templates, note extraction, metrics, display helpers and the out-of-memory fallback."""
