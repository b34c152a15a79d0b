#!/bin/sh
# The recipe of the bundled model resources/models/default.pt (CPU only; Debian's fluidsynth,
# fluid-soundfont-gm and timgm6mb-soundfont needed). Nothing from ../shared is used, and nothing from
# musescore-general-soundfont-small: MuseScore_General's pianos are the unseen-instrument validation
# (`python -m benchmarks --only quality`).
#
# 1. renders 240 training and 16 validation pieces of random chords, scales, arpeggios and polyphonic
#    passages (unmf_core.training.synthdata, seeds 0 and 1000) with FluidR3_GM or TimGM6mb and a GM piano
#    drawn per piece from programs 0 0 1 1 2 3 4 5 6 7, each altered as a real recording would be
#    (unmf_core.training.augment: stretched tuning by per-band pitch bends, a synthetic room RT60 0.3-2 s
#    half of the time, EQ colouring, pink noise), into $DATA (~2.5 min);
# 2. renders a template set per SoundFont and program (16 sets, ~2 min); a training crop is factorised with
#    the bundled templates (resources/templates/default.npz) half of the time, else with its own
#    instrument's set or a random one;
# 3. trains 10 layers with W fixed (--w-every 0), a learned step size per layer (--learn-step), the
#    onset-aligned loss plus the fit term D(M|W_l H_l)/D(M|W0 H0) on every layer, Adam lr 1e-3, for at most
#    12 epochs or 45 minutes, keeping the epoch with the best validation onset-F and its onset threshold
#    (--calibrate; validation: the 16 rendered pieces with the bundled and their own templates).
#
# Measured on this 2-core CPU: ~7 min per epoch on one core (the other one busy), 45 minutes in all.
# On a GPU machine the same command trains with --device cuda; several GPUs:
#   torchrun --nproc_per_node=N -m unmf_core.cli train <the same arguments> --device cuda
# (each process takes --batch crops per step; the validation runs on rank 0).
set -e
DATA=${1:-${TMPDIR:-/tmp}/unmf-train-data}
cd "$(dirname "$0")/.."
python3 -m unmf_core.cli train --make-data "$DATA" --pieces 240 --val-pieces 16 \
    --programs 0 0 1 1 2 3 4 5 6 7 --augment --default-share 0.5 \
    --layers 10 --w-every 0 --learn-step --loss onset --divergence-weight 1.0 --fit-layers all --lr 1e-3 \
    --crops-per-file 6 --epochs 12 --max-minutes 45 --threads 1 --seed 0 --calibrate \
    --out resources/models/default.pt --overwrite
