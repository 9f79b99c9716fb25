"""What the public app accepts: every limit in one place.

A Space is shared by strangers and scripts, for days. Each number below bounds the work or the
memory one request or one session can take. The page shows the same limits (a Textbox's
``max_length``, a Slider's range) and the server enforces them whatever the page allowed
(``tinylm_app.guard``). Change a limit here and both follow.
"""

from tinylm.bpe import MAX_MERGES as MAX_BPE_MERGES  # noqa: F401  (BPE merge by merge runs in plain Python)
from tinylm.bpe import MAX_TEXT_CHARS as MAX_BPE_CHARS  # noqa: F401  (the text it learns from)
from tinylm.compare import MAX_TEXT_CHARS as MAX_TOKENIZE_CHARS  # noqa: F401  (the Tokenizers tab's text)
from tinylm.edit import MAX_IMPRINT_PAIRS  # noqa: F401  (one imprint's (context -> next) pairs)
from tinylm.walkthrough import MAX_CONTEXT_CHARS as MAX_WALK_CHARS  # noqa: F401  (the Forward pass tab's context)

# --- text coming in ------------------------------------------------------------------------------
MAX_CONTEXT_CHARS = 20_000  # a context or prompt for Predict, Weights, Inspect (a model reads <= 256 tokens of it)
MAX_CORPUS_CHARS = 2_000_000  # training text (Tiny Shakespeare has 1.1 M)
MAX_MESSAGE_CHARS = 1000  # one chat message; the model's context is the real limit (and says so)
MAX_HISTORY_MESSAGES = 200  # chat history read per request; only the latest ones fit the context anyway
MAX_JSONL_CHARS = 500_000  # pasted JSONL for the chat fine-tune
MAX_JSON_CHARS = 1_000_000  # any JSON value sent to an endpoint (a chat history, an index, a value)
MAX_NAME_CHARS = 200  # a weight's name, a token, a Hub repository id

# --- files coming in -----------------------------------------------------------------------------
MAX_UPLOAD = "50mb"  # any upload (a checkpoint .zip, a .txt corpus); Gradio refuses bigger ones
MAX_UNPACKED_BYTES = 100 * 2**20  # what an uploaded .zip may unpack to (counted as it unpacks)

# --- work one request may do ---------------------------------------------------------------------
MAX_STEPS = 20_000  # optimizer steps of one run
MAX_TRAIN_SECONDS = 600  # wall-clock limit of one run, whatever its steps (10 min)
MAX_PARAMS = 5_000_000  # parameters of a model trained or uploaded here
MAX_LOGITS = 2**25  # batch x positions x vocabulary in one step (33.5 M floats, ~130 MB, x3 for grads)
MAX_VOCAB = 8192  # split/bpe vocabulary size
MAX_NEW_TOKENS = 500  # tokens one generation may write
MAX_REPLY_TOKENS = 400  # tokens one chat reply may have
MAX_K = 50  # candidates in a next-token chart
MAX_WALK_STEPS = 1000  # steps of the deepest forward pass the step slider accepts (a GPT has 6 + 12 per block)
MAX_CONVERSATIONS = 2000  # conversations one chat fine-tuning reads (more are cut, and said so)

# --- the shared machine --------------------------------------------------------------------------
MAX_CONCURRENT_TRAININGS = 2  # runs at once across all visitors; one more is told the trainer is busy
MAX_CONCURRENT_FINETUNES = 2  # chat fine-tunings at once across all visitors
QUEUE_CONCURRENCY = 4  # events served at once (2 cores: more only makes each slower)

# --- sessions ------------------------------------------------------------------------------------
SESSION_IDLE_SECONDS = 3600  # a session's models are freed after this long without use (API clients never say bye)
KEEP_ALIVE_SECONDS = 300  # an open page marks its session as in use this often
MAX_SESSIONS = 1000  # sessions Gradio keeps at once; the least recently used is dropped first
DOWNLOAD_SECONDS = 600  # files made for download are deleted after this long (Gradio has copied them by then)
CACHE_SECONDS = 3600  # Gradio's cache of uploads and downloads: files older than this are deleted
MAX_HUB_CACHE_BYTES = 200 * 2**20  # tokenizers fetched from the Hub for the lookup; the oldest go first
