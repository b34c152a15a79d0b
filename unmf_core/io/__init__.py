"""File input/output: atomic writes (:mod:`.atomic`) and model checkpoints (:mod:`.checkpoints`)."""
