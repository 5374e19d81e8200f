"""`MultitaskModel`: one encoder and the three heads a recipe names.

Heads read pooled vectors, so a frozen-encoder recipe can train them on cached features
(`features.py`) with exactly the modules that serve predictions later.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .heads import SentimentLinear, build_pair_head, mean_pool
from .model import BertModel
from .recipes import Recipe
from .tokenizer import Batch


@dataclass(frozen=True)
class EmbedOutput:
    """What `MultitaskModel.embed` returns: the sentence vectors the heads read (the recipe's
    pooling: [CLS] through the pooler, or the mean), and the encoder's attention maps (one
    (b, heads, t, t) map per layer) when `output_attentions` asked for them, else None."""
    pooled: torch.Tensor
    attentions: tuple[torch.Tensor, ...] | None = None


class MultitaskModel(nn.Module):
    def __init__(self, recipe: Recipe, encoder: BertModel):
        super().__init__()
        if recipe.pooling == "cls" and encoder.pooler is None:
            raise ValueError(f"recipe {recipe.name!r} pools [CLS] through the pooler, but the encoder has none")
        self.recipe = recipe
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.sst_head = SentimentLinear(hidden, recipe.dropout)
        self.para_head = build_pair_head(recipe.para_head, hidden, recipe.dropout, recipe.dps_rank)
        self.sts_head = build_pair_head(recipe.sts_head, hidden, recipe.dropout, recipe.dps_rank)
        self.pair_heads = {"quora": self.para_head, "sts": self.sts_head}

    def pool(self, hidden: torch.Tensor, pooled: torch.Tensor | None, attention_mask: torch.Tensor) -> torch.Tensor:
        return pooled if self.recipe.pooling == "cls" else mean_pool(hidden, attention_mask)

    def embed(self, batch: Batch, inputs_embeds: torch.Tensor | None = None, output_attentions: bool = False,
              ) -> EmbedOutput:
        """The pooled sentence vectors, and with `output_attentions` the attention maps.
        `inputs_embeds` replaces the word embeddings of `batch.input_ids` (from
        `token_embeddings`), e.g. to take gradients with respect to them."""
        out = self.encoder(batch.input_ids, batch.attention_mask, batch.token_type_ids, inputs_embeds,
                           output_attentions=output_attentions)
        return EmbedOutput(self.pool(out.last_hidden_state, out.pooler_output, batch.attention_mask), out.attentions)

    def token_embeddings(self, batch: Batch) -> torch.Tensor:
        """The word embeddings `embed` starts from (before positions and token types are added)."""
        return self.encoder.embeddings.word_embeddings(batch.input_ids)

    def sentiment_logits(self, batch: Batch) -> torch.Tensor:
        return self.sst_head(self.embed(batch).pooled)

    def pair_output(self, task: str, first: Batch, second: Batch | None = None) -> torch.Tensor:
        """Paraphrase logit or similarity score. A cross-encoder takes one joint batch (`first`)."""
        head = self.pair_heads[task]
        if self.recipe.pair_encoding == "cross":
            return head(self.embed(first).pooled)
        return head(self.embed(first).pooled, self.embed(second).pooled)


def build_model(recipe: Recipe, backbone_dir: str | Path, seed: int | None = None) -> MultitaskModel:
    """The recipe's model: pretrained encoder weights, or random ones for `scratch`.
    Heads are initialised from `seed` (default: the recipe's), so a run is reproducible."""
    from .model import BertConfig, load_pretrained

    torch.manual_seed(recipe.seed if seed is None else seed)
    if recipe.encoder == "scratch":
        encoder = BertModel(BertConfig.from_folder(backbone_dir))
    else:
        encoder = load_pretrained(backbone_dir)
    return MultitaskModel(recipe, encoder)
