#!/usr/bin/env bash
# Build the shipped chat model from nothing: base pretraining -> SFT -> RL, with an evaluation
# after SFT and after RL. Every stage counts steps, not seconds, so the numbers reproduce.
#
#   bash scripts/build_chat.sh [OUT]      (default OUT=out/chat; about 20 minutes on a quiet 2-core CPU)
#
# OUT-sft/eval.json and OUT/eval.json hold the README's figures (SFT alone, then SFT + RL); ship
# the model with `cp -r OUT/. tinylm/pretrained/chat/` (its eval.json is what the Chat tab shows).
# Each stage's seconds and the machine's load go to stderr: the machine is shared, so they vary.
# With COMPARE=1 it also trains SFT alone, from the same base, for as many more steps as RL's compute
# would buy (its fine-tuning steps, and its sampling counted in training tokens) (OUT-sft-long):
# does RL's gain come from its fresh prompts, or only from the extra compute?
set -euo pipefail
OUT=${1:-out/chat}
THREADS=${THREADS:-2}
BASE_STEPS=${BASE_STEPS:-1500}
DEMOS=${DEMOS:-0}  # written conversations SFT learns from; 0 = a fresh one every time (RL needs only the checker)
SFT_STEPS=${SFT_STEPS:-3000}
RL_ROUNDS=${RL_ROUNDS:-3}
SECONDS=0
last=0
stage() {  # print how long the stage took and the load average (1, 5, 15 minutes)
    echo "$1: $((SECONDS - last)) s (total $SECONDS s, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    last=$SECONDS
}
python -m tinylm train --preset chat-base --steps "$BASE_STEPS" --out "$OUT-base" --threads "$THREADS" --quiet
stage base
python -m tinylm sft --base "$OUT-base" --out "$OUT-sft" --steps "$SFT_STEPS" --demos "$DEMOS" --threads "$THREADS" --quiet
stage sft
python -m tinylm eval-chat --ckpt "$OUT-sft" --threads "$THREADS" | tail -1 > "$OUT-sft/eval.json"
stage eval-sft
python -m tinylm rl --ckpt "$OUT-sft" --out "$OUT" --rounds "$RL_ROUNDS" --threads "$THREADS"
stage rl
python -m tinylm eval-chat --ckpt "$OUT" --threads "$THREADS" | tail -1 > "$OUT/eval.json"
stage eval
if [ "${COMPARE:-0}" = 1 ]; then
    # RL's compute in SFT steps: its fine-tuning steps, plus its sampling's forward passes (a third
    # of a training step's work per token) in SFT's tokens per step (32 rows of 256)
    EXTRA=$(python -c "import json, sys; rl = json.load(open(sys.argv[1]))['rl']
print(sum(r['steps'] for r in rl) + round(sum(r['rollout_tokens'] for r in rl) / 3 / (32 * 256)))" "$OUT/config.json")
    echo "SFT alone gets $EXTRA more steps" >&2
    python -m tinylm sft --base "$OUT-base" --out "$OUT-sft-long" --steps $((SFT_STEPS + EXTRA)) --demos "$DEMOS" \
        --threads "$THREADS" --quiet
    python -m tinylm eval-chat --ckpt "$OUT-sft-long" --threads "$THREADS" | tail -1 > "$OUT-sft-long/eval.json"
    stage compare
fi
cat "$OUT-sft/eval.json" "$OUT/eval.json"
