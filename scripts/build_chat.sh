#!/usr/bin/env bash
# Build the shipped chat model from nothing: base pretraining -> SFT -> RL, with an evaluation
# after SFT and after RL. Every stage counts steps, not seconds, so the numbers reproduce.
#
#   bash scripts/build_chat.sh [OUT]      (default OUT=out/chat; about 12 minutes on a 2-core CPU)
#
# OUT-eval-sft.json and OUT-eval.json hold the README's figures (SFT alone, then SFT + RL).
# With COMPARE=1 it also trains SFT alone for as many more steps as RL took (OUT-sft-long),
# to check that RL's gain comes from its fresh, checked prompts and not from the extra steps.
set -euo pipefail
OUT=${1:-out/chat}
THREADS=${THREADS:-2}
DEMOS=${DEMOS:-8000}  # written conversations SFT learns from (RL needs only the checker)
SECONDS=0
python -m tinylm train --preset chat-base --out "$OUT-base" --threads "$THREADS" --quiet
echo "base: ${SECONDS}s" >&2
python -m tinylm sft --base "$OUT-base" --out "$OUT-sft" --steps 1500 --demos "$DEMOS" --threads "$THREADS" --quiet
echo "sft: ${SECONDS}s" >&2
python -m tinylm eval-chat --ckpt "$OUT-sft" --threads "$THREADS" | tail -1 > "$OUT-eval-sft.json"
python -m tinylm rl --ckpt "$OUT-sft" --out "$OUT" --threads "$THREADS"
echo "rl: ${SECONDS}s" >&2
python -m tinylm eval-chat --ckpt "$OUT" --threads "$THREADS" | tail -1 > "$OUT-eval.json"
echo "total: ${SECONDS}s" >&2
if [ "${COMPARE:-0}" = 1 ]; then
    # RL ran 6 rounds x 100 steps: give SFT alone the same 600 extra steps on its demonstrations
    python -m tinylm sft --base "$OUT-base" --out "$OUT-sft-long" --steps 2100 --demos "$DEMOS" --threads "$THREADS" --quiet
    python -m tinylm eval-chat --ckpt "$OUT-sft-long" --threads "$THREADS" | tail -1 > "$OUT-eval-sft-long.json"
fi
cat "$OUT-eval-sft.json" "$OUT-eval.json"
