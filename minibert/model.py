"""A BERT encoder written from scratch, parameter-compatible with Hugging Face `BertModel`.

Submodule and parameter names follow the HF layout (`embeddings.word_embeddings.weight`,
`encoder.layer.N.attention.self.query.weight`, ...) so that any HF BERT folder loads by name
with no translation table: that naming is the whole compatibility contract.
"""
from __future__ import annotations

import json
import math
import threading
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0

    @classmethod
    def from_dict(cls, values: dict) -> BertConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def from_folder(cls, folder: Path) -> BertConfig:
        path = Path(folder) / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no config.json; a BERT folder needs config.json and model.safetensors")
        values = json.loads(path.read_text())
        if values.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{path}: hidden_act {values['hidden_act']!r} is not supported (only 'gelu')")
        if values.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: position_embedding_type {values['position_embedding_type']!r} is not supported")
        return cls.from_dict(values)

    def to_dict(self) -> dict:
        return asdict(self)


class Embeddings(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None,
                inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = inputs_embeds + self.position_embeddings(positions)[None] + self.token_type_embeddings(token_type_ids)
        x = self.LayerNorm(x)
        return self.dropout(x) if self.training else x  # in eval the identity: no module call


class SelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(f"hidden_size {config.hidden_size} is not a multiple of num_attention_heads "
                             f"{config.num_attention_heads}")
        self.heads = config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor, output_attentions: bool = False,
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(output, None), or with `output_attentions` (output, the (b, heads, t, t) attention
        probabilities). Those need the explicit softmax, so the fused SDPA kernel runs whenever
        they are not asked for."""
        b, t, d = x.shape

        def split(proj: nn.Linear):
            return proj(x).view(b, t, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = split(self.query), split(self.key), split(self.value)
        dropout_p = self.dropout_p if self.training else 0.0
        if output_attentions:
            probs = torch.softmax((q @ k.transpose(-1, -2) / math.sqrt(d // self.heads) + attn_bias).float(), -1)
            out = F.dropout(probs, dropout_p).to(v.dtype) @ v
        else:
            probs = None
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias, dropout_p=dropout_p)
        return out.transpose(1, 2).reshape(b, t, d), probs


class DenseResidualNorm(nn.Module):
    """Projection, dropout, then post-LayerNorm over the residual: HF calls it `*.output`."""

    def __init__(self, in_size: int, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(in_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        x = self.dense(x)
        return self.LayerNorm((self.dropout(x) if self.training else x) + residual)


class Attention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = SelfAttention(config)
        self.output = DenseResidualNorm(config.hidden_size, config)

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor, output_attentions: bool = False,
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        out, probs = self.self(x, attn_bias, output_attentions)
        return self.output(out, x), probs


class Intermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Exact (erf) GELU, as BERT was trained with; the tanh approximation drifts by ~1e-3.
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = Attention(config)
        self.intermediate = Intermediate(config)
        self.output = DenseResidualNorm(config.intermediate_size, config)

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor, output_attentions: bool = False,
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, probs = self.attention(x, attn_bias, output_attentions)
        return self.output(self.intermediate(x), x), probs


class Encoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(Layer(config) for _ in range(config.num_hidden_layers))

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor, output_attentions: bool = False,
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """(last hidden states, one attention map per layer, or Nones)."""
        maps = []
        for layer in self.layer:
            x, probs = layer(x, attn_bias, output_attentions)
            maps.append(probs)
        return x, tuple(maps)


class Pooler(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))


@dataclass(frozen=True)
class EncoderOutput:
    """What `BertModel` returns, named as transformers' BaseModelOutputWithPooling names it.
    `pooler_output` is None for an encoder without a pooler; `attentions` (one (batch, heads, t, t)
    map of attention probabilities per layer) is None unless `output_attentions` asked for it."""
    last_hidden_state: torch.Tensor
    pooler_output: torch.Tensor | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class BertModel(nn.Module):
    """Returns an `EncoderOutput`; with `output_attentions=True` it holds the attention maps too."""

    def __init__(self, config: BertConfig, add_pooler: bool = True, init_weights: bool = True):
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)
        self.pooler = Pooler(config) if add_pooler else None
        if init_weights:  # off when every weight is about to be loaded
            self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module):
        # BERT's own initialisation; only the `scratch` recipe keeps these values.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None, output_attentions: bool = False) -> EncoderOutput:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        if (inputs_embeds is None and not output_attentions and not self.training and not torch.is_grad_enabled()
                and not torch.jit.is_tracing()):
            traced = self._traced(input_ids, attention_mask, token_type_ids)
            if traced is not None:
                # The plain interpreter: no shape-specialised plans to build and keep per input size.
                with torch.jit.optimized_execution(False):
                    out = traced(input_ids, attention_mask, token_type_ids)
                return EncoderOutput(out[0], out[1] if self.pooler is not None else None)
        return self._eager(input_ids, attention_mask, token_type_ids, inputs_embeds, output_attentions)

    def _traced(self, *example: torch.Tensor) -> torch.jit.ScriptModule | None:
        """This encoder's forward as a TorchScript trace (same ops, same weights, same results to
        the bit), for inference. Run from Python, each op of the eager forward takes the
        interpreter lock back after its kernel, and beside a thread running Python (the app's
        server, another request) that can cost up to a switch interval an op; the trace runs all
        its ops without the lock (docs/BENCHMARKS.md, issue 30). Traced once per set of weights;
        None where tracing is not possible (the eager forward then serves)."""
        key = tuple(p.data_ptr() for p in self.parameters())
        found = self.__dict__.get("_trace")
        if found is not None and found[0] == key:
            return found[1]
        with _TRACE_LOCK:
            found = self.__dict__.get("_trace")
            if found is None or found[0] != key:
                try:
                    with warnings.catch_warnings():
                        warnings.filterwarnings("ignore", message=r".*torch\.jit\.trace.* is deprecated")
                        traced = torch.jit.trace(_Traceable(self), example, check_trace=False)
                except Exception:  # noqa: BLE001 (a torch without tracing: the eager forward serves)
                    traced = None
                # kept outside the module's registered children: state_dict and .to() never see it
                self.__dict__["_trace"] = found = (key, traced)
        return found[1]

    def _eager(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
               inputs_embeds: torch.Tensor | None = None, output_attentions: bool = False) -> EncoderOutput:
        x = self.embeddings(input_ids, token_type_ids, inputs_embeds)
        # Additive bias rather than a boolean mask: a fully padded row (never produced by our
        # tokenizer, but possible from a caller) then yields finite values instead of NaN.
        attn_bias = torch.zeros(attention_mask.shape, dtype=x.dtype, device=x.device)
        attn_bias = attn_bias.masked_fill(attention_mask == 0, torch.finfo(x.dtype).min)[:, None, None, :]
        hidden, maps = self.encoder(x, attn_bias, output_attentions)
        pooled = self.pooler(hidden) if self.pooler is not None else None
        return EncoderOutput(hidden, pooled, maps if output_attentions else None)


_TRACE_LOCK = threading.Lock()


class _Traceable(nn.Module):
    """`BertModel`'s eager forward with tensors out, as `torch.jit.trace` takes it."""

    def __init__(self, bert: BertModel):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
                ) -> tuple[torch.Tensor, ...]:
        out = self.bert._eager(input_ids, attention_mask, token_type_ids)
        return (out.last_hidden_state,) if out.pooler_output is None else (out.last_hidden_state, out.pooler_output)


class WeightMismatch(ValueError):
    """A weights file does not fit the model it is loaded into."""


# Buffers some HF exports carry that are not parameters of the model.
_IGNORABLE = ("embeddings.position_ids",)


def encoder_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A BERT weights file's encoder entries: HF task models prefix them with `bert.` (and add
    heads beside them), plain `BertModel` files do not."""
    if any(k.startswith("bert.") for k in state):
        return {k[len("bert."):]: v for k, v in state.items() if k.startswith("bert.")}
    return state


def load_state(model: nn.Module, state: dict[str, torch.Tensor], source: str, allow_missing: tuple[str, ...] = ()) -> list[str]:
    """Load `state` into `model`, insisting that every expected key exists with the right shape.

    HF task models prefix the encoder with `bert.`; that prefix is stripped. Returns the keys of
    `state` the model does not use (an MLM head, say), so the caller can report them.
    """
    state = encoder_weights(state)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.startswith(allow_missing)]
    wrong_shape = [f"{k}: file {tuple(state[k].shape)}, model {tuple(v.shape)}"
                   for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or wrong_shape:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing keys (first: {', '.join(missing[:5])})")
        if wrong_shape:
            problems.append(f"{len(wrong_shape)} shape mismatches ({'; '.join(wrong_shape[:5])})")
        raise WeightMismatch(f"{source}: weights do not fit the model: {'; '.join(problems)}")
    with torch.no_grad():
        for k, v in expected.items():
            if k in state:
                v.copy_(state[k].to(v.dtype))
    return [k for k in state if k not in expected and k not in _IGNORABLE]


def load_pretrained(folder: str | Path, add_pooler: bool = True) -> BertModel:
    """Build a `BertModel` from an HF-layout folder (config.json + model.safetensors)."""
    folder = Path(folder)
    config = BertConfig.from_folder(folder)
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: missing; a BERT folder needs config.json and model.safetensors")
    model = BertModel(config, add_pooler=add_pooler)
    state = load_file(str(weights))
    if not add_pooler:
        state = {k: v for k, v in state.items() if not k.startswith(("pooler.", "bert.pooler."))}
    load_state(model, state, str(weights))
    return model
