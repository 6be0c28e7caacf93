#!/usr/bin/env bash
# Rebuilds tokenflow's shipped model, models/tokenflow-small.safetensors, end to end on this machine:
#
#   1. the training images (scripts/get-data.sh, into data/);
#   2. the semantic teacher, a small CLIP trained on the captions (tokenflow train-teacher);
#   3. the TokenFlow tokenizer, its semantic encoder started from the teacher's image tower;
#   4. the pixel-only baseline of the model card: the same network, budget and seed, but indices
#      chosen by the pixel codes alone (--semantic-distance-weight 0);
#   5. the export of the tokenizer's EMA weights to bf16 safetensors with its provenance;
#   6. the model card's measurements on the held-out split (docs/model-card/*.json, contact sheet).
#
#   scripts/train-default.sh                  everything (hours; stages already done are skipped)
#   scripts/train-default.sh --runs DIR       training runs in DIR (default: runs/ at the repo root)
#   scripts/train-default.sh --until STAGE    stop after data, teacher, tokenizer, baseline or export
#
# Every stage resumes: a run folder with checkpoints continues from its latest one, so the script can
# be stopped at any time and started again. Needs the build (scripts/setup.sh).
set -euo pipefail
# One block to the end, which bash reads whole before running it: editing the file during a run is safe.
{

usage() { echo "usage: scripts/train-default.sh [--runs DIR] [--until data|teacher|tokenizer|baseline|export]"; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs="$repo/runs"
until_stage=""
while (($#)); do
  case "$1" in
    --runs) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; runs=$2; shift 2 ;;
    --until)
      [[ $# -ge 2 && $2 =~ ^(data|teacher|tokenizer|baseline|export)$ ]] || { usage >&2; exit 2; }
      until_stage=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
mkdir -p "$runs"
runs=$(cd "$runs" && pwd)
tokenflow="$repo/build/tokenflow"
[[ -x "$tokenflow" ]] || { echo "train-default.sh: $tokenflow not found: run scripts/setup.sh first" >&2; exit 1; }
data="$repo/data"

# The recipe. Changing any of it makes another model; docs/model-card.md describes this one.
teacher_steps=1000
teacher_args=(--image-size 64 --patch 8 --width 256 --layers 6 --text-width 256 --text-layers 4
              --embed-dim 256 --global-batch-size 64 --ckpt-every 250 --global-seed 0)
tokenizer_steps=1200
tokenizer_args=(--image-size 128 --ch-mult 1,2,2,4 --pixel-channels 32 --z-channels 128 --res-blocks 2
                --codebook-size 4096 --semantic-code-dim 32 --codebook-embed-dim 8
                --semantic-decoder-layers 3 --semantic-decoder-heads 4 --perceptual none --disc-weight 0
                --ema --ema-decay 0.995 --global-batch-size 8 --ckpt-every 100 --global-seed 0)

stop_after() { [[ "$until_stage" == "$1" ]] && { echo "train-default.sh: stopped after $1"; exit 0; }; return 0; }

# The newest checkpoint of a run folder, or nothing.
latest_checkpoint() { ls "$1"/checkpoints/*.pt 2>/dev/null | sort | tail -n 1; }
step_checkpoint() { printf '%s/checkpoints/%07d.pt' "$1" "$2"; }

# train_stage NAME RUN_DIR STEPS COMMAND...: runs COMMAND --steps STEPS -o RUN_DIR, with --resume
# from the newest checkpoint when there is one; nothing when the final checkpoint exists.
train_stage() {
  local name=$1 run=$2 steps=$3
  shift 3
  if [[ -f "$(step_checkpoint "$run" "$steps")" ]]; then
    echo "train-default.sh: $name: done ($(step_checkpoint "$run" "$steps"))"
    return
  fi
  local resume=() latest
  latest=$(latest_checkpoint "$run")
  [[ -n "$latest" ]] && resume=(--resume "$latest")
  echo "train-default.sh: $name: ${latest:+resuming $latest}${latest:-starting} -> $run"
  (set -x; "$@" --steps "$steps" -o "$run" "${resume[@]}" --no-progress)
}

"$repo/scripts/get-data.sh"
stop_after data

teacher_run="$runs/teacher"
train_stage teacher "$teacher_run" "$teacher_steps" \
  "$tokenflow" train-teacher --captions "$data/captions.tsv" --train-list "$data/train.txt" \
  --val-list "$data/val.txt" "${teacher_args[@]}"
teacher=$(step_checkpoint "$teacher_run" "$teacher_steps")
stop_after teacher

tokenizer_run="$runs/tokenizer"
train_stage tokenizer "$tokenizer_run" "$tokenizer_steps" \
  "$tokenflow" train --data "$data/train.txt" --teacher "$teacher" "${tokenizer_args[@]}"
stop_after tokenizer

baseline_run="$runs/baseline"
train_stage baseline "$baseline_run" "$tokenizer_steps" \
  "$tokenflow" train --data "$data/train.txt" --teacher "$teacher" "${tokenizer_args[@]}" \
  --semantic-distance-weight 0
stop_after baseline

model="$repo/models/tokenflow-small.safetensors"
baseline_model="$runs/baseline.safetensors"
export_model() {
  local checkpoint=$1 output=$2 name=$3 data_note
  data_note="scripts/get-data.sh: $(grep -vc "^#" "$data/train.txt") training images ($(git -C "$repo" rev-parse --short HEAD))"
  "$tokenflow" convert "$checkpoint" -o "$output" --weights ema --dtype bf16 \
    --metadata "name=$name" \
    --metadata "data=$data_note" \
    --metadata "teacher=tokenflow train-teacher, $teacher_steps steps: ${teacher_args[*]}" \
    --metadata "recipe=tokenflow train: ${tokenizer_args[*]}" \
    --metadata "date=$(date -u +%Y-%m-%d)" \
    --metadata "rebuild=scripts/train-default.sh"
}
mkdir -p "$repo/models"
export_model "$(step_checkpoint "$tokenizer_run" "$tokenizer_steps")" "$model" tokenflow-small
export_model "$(step_checkpoint "$baseline_run" "$tokenizer_steps")" "$baseline_model" tokenflow-small-pixel-only-baseline
stop_after export

card="$repo/docs/model-card"
mkdir -p "$card"
# measure NAME WEIGHTS [EVALUATE OPTIONS...]: the whole held-out split, with the teacher's semantics and
# retrieval, into NAME.json; its photographs into NAME-photos.json (the options go to this one). In
# exact float32 arithmetic, so that the card does not depend on the machine's bfloat16 support.
measure() {
  local name=$1 weights=$2
  shift 2
  "$tokenflow" evaluate -m "$weights" --precision fp32 --list "$data/val.txt" --teacher "$teacher" \
    --captions "$data/captions.tsv" -o "$card/$name.json"
  "$tokenflow" evaluate -m "$weights" --precision fp32 --list "$data/photos-val.txt" -o "$card/$name-photos.json" "$@"
}
measure tokenflow-small "$model" --contact-sheet "$card/contact-sheet.png"
measure baseline "$baseline_model"
echo "train-default.sh: done: $model; measurements in $card"
exit 0
}
