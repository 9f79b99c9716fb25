#!/usr/bin/env bash
# Build the shipped chat model from nothing: base pretraining -> SFT, evaluated; with RL=1, RL on
# top of it, evaluated too. Every stage counts steps, not seconds, so the numbers reproduce.
#
#   bash scripts/build_chat.sh [OUT]      (default OUT=out/chat; 22.6 minutes on the README's machine B,
#   RL=1 bash scripts/build_chat.sh       a quiet 2-core Xeon; a slower one of the same kind took 1.7x as long)
#
# OUT is the shipped model (SFT): `cp OUT/* tinylm/pretrained/chat/`. `eval-chat --save` records its
# figures in it (config.json "eval": its card and the Chat tab show them); OUT/eval.json has the
# same line. With RL=1, OUT-rl is SFT + RL (its eval.json too; it keeps SFT's figures as "eval_sft"):
# at this scale RL has not beaten SFT (README, Chat), so SFT is what ships.
# Each stage's seconds and the machine's load go to stderr: the machine is shared, so they vary.
set -euo pipefail
OUT=${1:-out/chat}
THREADS=${THREADS:-2}
BASE_STEPS=${BASE_STEPS:-2000}
DEMOS=${DEMOS:-0}  # written conversations SFT learns from; 0 = a fresh one every time (RL needs only the checker)
ASIDES=${ASIDES:-0.3}  # share of SFT's questions with a few words of Shakespeare that change nothing
OUT_OF_SCOPE=${OUT_OF_SCOPE:-0.12}  # share of SFT's questions that are out of scope ("I do not know.")
# bf16 autocast (attention in fp32): about 1.5x faster steps at this size on a CPU with bf16 instructions (bench/bench_step.py);
# PRECISION=fp32 where it is not (an older CPU emulates bf16, and is slower with it)
PRECISION=${PRECISION:-bf16}
SFT_STEPS=${SFT_STEPS:-6000}
# the shapes written blind (tinylm/chat_wordings.py BLIND_SHAPES): at 2,500 SFT steps they cost the skills,
# at 6,000 they lift held-out phrasings 0.795 -> 0.876 (README, Chat). BLIND_SHAPES=0 leaves them out
BLIND_SHAPES=${BLIND_SHAPES:-1}
RL_ROUNDS=${RL_ROUNDS:-3}
SECONDS=0
last=0
stage() {  # print how long the stage took and the load average (1, 5, 15 minutes)
    echo "$1: $((SECONDS - last)) s (total $SECONDS s, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    last=$SECONDS
}
python -m tinylm train --preset chat-base --steps "$BASE_STEPS" --out "$OUT-base" --threads "$THREADS" \
    --precision "$PRECISION" --quiet
stage base
python -m tinylm sft --base "$OUT-base" --out "$OUT" --steps "$SFT_STEPS" --demos "$DEMOS" --asides "$ASIDES" \
    --out-of-scope "$OUT_OF_SCOPE" --name chat --precision "$PRECISION" --threads "$THREADS" --quiet \
    $([ "$BLIND_SHAPES" = 1 ] && echo --blind-shapes)
python -c "import sys; from tinylm.checkpoint import update_info; update_info(sys.argv[1], reproduce='bash scripts/build_chat.sh')" \
    "$OUT"
stage sft
python -m tinylm eval-chat --ckpt "$OUT" --save --threads "$THREADS" | tail -1 > "$OUT/eval.json"
stage eval
if [ "${RL:-0}" = 1 ]; then
    python -m tinylm rl --ckpt "$OUT" --out "$OUT-rl" --rounds "$RL_ROUNDS" --threads "$THREADS"
    stage rl
    python -m tinylm eval-chat --ckpt "$OUT-rl" --save --threads "$THREADS" | tail -1 > "$OUT-rl/eval.json"
    stage eval-rl
fi
cat "$OUT"/eval.json
