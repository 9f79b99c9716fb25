"""The recipes of the shipped models: ``python -m tinylm train --preset NAME`` reproduces each.

They use the fast settings found for this 2-core CPU (see bench/ and the README's figures).
"""

import copy

from .runs import RunConfig
from .train import TrainConfig

PRESETS: dict[str, RunConfig] = {
    # a char-level GPT on Tiny Shakespeare: nanoGPT's CPU recipe (4 layers, 128 wide, context 64)
    # with 2 layers instead of 4. On a budget of a few minutes the shallower model learns faster
    # per second and ends lower (README, Performance: val loss against depth at a fixed budget)
    "shakespeare-char-gpt": RunConfig(
        dataset="tiny_shakespeare", tokenizer="char", model="gpt",
        model_config=dict(block_size=64, n_layer=2, n_head=4, n_embd=128),
        train=TrainConfig(max_steps=4000, batch_size=32, learning_rate=5e-3, warmup_steps=100, eval_interval=500),
    ),
    # Bengio et al.'s MLP on names, like EurekaLabsAI/mlp (context 3, one hidden layer: val 2.059)
    # with 5 characters of context, two hidden layers and word dropout, which regularises at a
    # fraction of dropout's cost and keeps the fast first layer on (tinylm/models/mlp.py)
    "names-mlp": RunConfig(
        dataset="names", tokenizer="char", model="mlp",
        model_config=dict(block_size=5, n_embd=48, n_hidden=512, n_layer=2, token_dropout=0.1),
        train=TrainConfig(max_steps=1000, batch_size=64, seq_len=64, learning_rate=4e-3, warmup_steps=100,
                          eval_interval=500),
    ),
    # a tiny GPT that learns "what letter comes next" (TinyGPT's sequence-alpha task)
    "alphabet-gpt": RunConfig(
        dataset="alphabet", tokenizer="char", model="gpt",
        model_config=dict(block_size=16, n_layer=2, n_head=2, n_embd=32),
        train=TrainConfig(max_steps=600, batch_size=32, learning_rate=3e-3, warmup_steps=30, eval_interval=200),
    ),
    # a word-level MLP on everyday Portuguese: the last 4 words predict the next. 76 training
    # sentences are memorised in no time; small, heavily regularised and short keeps it honest
    # on the unseen val sentences (val loss below ln(vocab_size) = 5.23)
    "phrases-pt-mlp": RunConfig(
        dataset="phrases_pt", tokenizer="split", model="mlp",
        model_config=dict(block_size=4, n_embd=16, n_hidden=64, dropout=0.5),
        train=TrainConfig(max_steps=400, batch_size=32, seq_len=16, learning_rate=3e-3, warmup_steps=30,
                          weight_decay=1.0, eval_interval=100),
    ),
    # the chat model's base: a char GPT pretrained on the chat tasks' facts and questions written as
    # plain text. Then `python -m tinylm sft` and `rl` make it a chat model (scripts/build_chat.sh).
    # Context 256: a question asked as the 3rd turn of a conversation still fits. It trains on whole
    # 256-token windows: positions it never trains on keep random position embeddings (wpe rows),
    # and windows of 128 left SFT to learn positions 128-255 from scratch (val loss 2.87, not 0.78)
    "chat-base": RunConfig(
        dataset="chat_base", tokenizer="char", model="gpt",
        # 4 layers, 128 wide: 3 x 160 (a step costs about the same) was no better over three builds of each,
        # 2 x 192 at equal time no better (and it counts worse), 6 x 96 worse: README, Chat, "Model size and tokenizer"
        model_config=dict(block_size=256, n_layer=4, n_head=4, n_embd=128),
        train=TrainConfig(max_steps=2000, batch_size=16, learning_rate=3e-3, warmup_steps=100,
                          eval_interval=500, precision="bf16"),
    ),
}


def get_preset(name: str) -> RunConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}")
    return copy.deepcopy(PRESETS[name])  # callers may change it (e.g. a time budget)
