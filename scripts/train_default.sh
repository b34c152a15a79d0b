#!/bin/sh
# The recipe of the bundled model resources/models/default.pt (CPU only, Debian's
# fluidsynth + fluid-soundfont-gm needed). It renders 160 training and 12
# validation pieces of random chords, scales, arpeggios and polyphonic passages
# (unmf_core.synthdata, seeds 0 and 1000) into $DATA, renders extra template sets
# of GM programs 2 and 4, and trains a 10-layer model for at most 8 epochs,
# keeping the epoch with the best validation onset-F on the rendered validation
# pieces. Nothing from ../shared is used. About 40-50 min on one loaded CPU core.
set -e
DATA=${1:-${TMPDIR:-/tmp}/unmf-train-data}
cd "$(dirname "$0")/.."
python3 -m unmf_core.cli train --make-data "$DATA" --pieces 160 --val-pieces 12 --template-programs 2 4 \
    --layers 10 --epochs 8 --threads 1 --seed 0 --out resources/models/default.pt --overwrite
