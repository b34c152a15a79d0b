"""Training unrolled models: data sets, losses, validation, synthetic material and the trainer."""
