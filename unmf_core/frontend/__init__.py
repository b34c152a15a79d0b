"""Audio front end: reading and validating audio (:mod:`.audio`), the torch CQT (:mod:`.cqt`) and the
block-wise CQT of long recordings (:mod:`.blocks`)."""
