"""Live transcription of an audio stream (a microphone, or a file replayed through the same input code).

:class:`~unmf_core.streaming.transcriber.LiveTranscriber` turns blocks of samples into notes as
they come; :func:`~unmf_core.streaming.session.listen` drives it from an input stream.
"""
