#!/bin/sh
# The recipe of the bundled model resources/models/default.pt (CPU only; Debian's
# fluidsynth + fluid-soundfont-gm needed). Nothing from ../shared is used.
#
# 1. renders 160 training and 12 validation pieces of random chords, scales,
#    arpeggios and polyphonic passages (unmf_core.synthdata, seeds 0 and 1000;
#    six GM pianos, programs 0-5) into $DATA (~1 min);
# 2. renders template sets of GM programs 1-5 (program 0 is the bundled
#    resources/templates/default.npz); a piece is paired with its own
#    instrument's set half of the time, else with a random one (~2 min);
# 3. trains 10 layers with W fixed (--w-every 0), a learned step size per layer
#    (--learn-step), the onset-aligned loss plus the fit term
#    D(M|W_l H_l)/D(M|W0 H0) on every layer (linear weights; --fit-layers all
#    keeps every layer's W H at the scale of M, so the divergence falls layer
#    by layer), Adam lr 1e-3, for at most 12 epochs or 40 minutes, keeping the
#    epoch with the best validation onset-F (validation: default and
#    own-instrument templates on the 12 pieces).
#
# Measured: 3.5-5 min per epoch on one core (the other one busy).
#
# Since then `unmf train --make-data` renders more varied material by default (two SoundFonts, pianos 0-7,
# augmentation: docs/benchmarks/training.md); the flags --soundfonts, --programs, --no-augment and
# --default-share 0 below ask for this model's material. One difference remains: the bundled templates were
# FluidR3's Acoustic Grand when the model was trained (program-0 pieces got them as their own set); they are
# the SoundFont mean now, so program-0 pieces get a random set instead.
set -e
DATA=${1:-${TMPDIR:-/tmp}/unmf-train-data}
cd "$(dirname "$0")/.."
python3 -m unmf_core.cli train --make-data "$DATA" --pieces 160 --val-pieces 12 --template-programs 1 2 3 4 5 \
    --soundfonts /usr/share/sounds/sf2/FluidR3_GM.sf2 --programs 0 0 0 1 2 3 4 5 --no-augment --default-share 0 \
    --layers 10 --w-every 0 --learn-step --loss onset --divergence-weight 1.0 --fit-layers all --lr 1e-3 --crops-per-file 8 \
    --epochs 12 --max-minutes 40 --threads 1 --seed 0 --out resources/models/default.pt --overwrite
