"""Every variant as a declarative recipe: what differs between the published models, and nothing else.

A recipe names choices (pooling, a head per task, how the tasks share training, what is frozen,
hyper-parameters); `network.py` builds the model and `train.py` the loop from them. Adding a
variant is adding an entry here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

TASK_NAMES = ("sst", "quora", "sts")


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str                      # the recipe in plain words
    source: str                       # the work it reproduces
    kind: str = "model"               # "model" | "ensemble"
    encoder: str = "finetune"         # "finetune" | "frozen" | "scratch" (random init, then fine-tune)
    pooling: str = "mean"             # "cls" (pooler output) | "mean" (over real tokens)
    pair_encoding: str = "bi"         # "bi": each sentence alone | "cross": [CLS] a [SEP] b [SEP]
    para_head: str = "concat-mlp"     # see heads.build_pair_head
    sts_head: str = "cosine"
    train_tasks: tuple[str, ...] = TASK_NAMES
    sharing: str = "round-robin"      # "round-robin" | "sum" | "pcgrad"
    contrastive: bool = False         # add InfoNCE over Quora positives (in-batch negatives)
    temperature: float = 0.05
    freeze_word_embeddings: bool = True  # then the checkpoint takes them from the backbone package
    dps_rank: int = 64
    epochs: int = 4
    lr: float = 5e-5
    head_lr: float = 1e-3
    batch_size: int = 32
    warmup: float = 0.1               # fraction of steps
    weight_decay: float = 0.01
    dropout: float = 0.1
    max_length: int = 128
    seed: int = 11711
    members: tuple[str, ...] = ()     # ensemble only

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Recipe":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"recipe {values.get('name')!r}: unknown fields {unknown}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**values)

    def with_overrides(self, **changes) -> "Recipe":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def describe(self) -> str:
        """One paragraph for the app's Models tab."""
        if self.kind == "ensemble":
            return f"{self.summary} Members: {', '.join(self.members) or 'every other shipped variant'}."
        encoder = {"finetune": "fine-tuned", "frozen": "frozen", "scratch": "randomly initialised, then trained"}[self.encoder]
        rates = (f"head lr {self.head_lr:g}" if self.encoder == "frozen"
                 else f"encoder lr {self.lr:g}, head lr {self.head_lr:g}")
        pairs = "both sentences in one sequence" if self.pair_encoding == "cross" else "each sentence encoded alone"
        return (f"{self.summary} Encoder {encoder}; {self.pooling} pooling; pairs: {pairs}; paraphrase head "
                f"{self.para_head}; similarity head {self.sts_head}; trained on {', '.join(self.train_tasks)} "
                f"({self.sharing}{', + InfoNCE' if self.contrastive else ''}); {self.epochs} epochs, {rates}.")


SBERT_CONCAT = Recipe(
    name="sbert-concat",
    summary="Summed multitask loss, mean pooling, cosine similarity for STS and an MLP over [|u-v|, u*v] for paraphrase.",
    source='"The Best of BERT Worlds" (CS224N 2023): its best configuration, after SBERT (Reimers & Gurevych 2019).',
    sharing="sum",
)

RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe(
        name="frozen-cls",
        summary="Encoder frozen; the [CLS] pooler output feeds linear heads.",
        source='The CS224N minBERT "pretrain" option: only the heads learn.',
        encoder="frozen", sharing="sum", pooling="cls", para_head="diff-linear", sts_head="diff-linear",
        epochs=40, head_lr=1e-2, batch_size=256, dropout=0.1),
    Recipe(
        name="frozen-mean",
        summary="Backbone untouched, mean pooling: STS = 5 x cosine, paraphrase = logistic regression on [|u-v|, u*v], sentiment = a linear head.",
        source="What the backbone knows before fine-tuning (sentence-transformers usage of all-MiniLM-L6-v2).",
        encoder="frozen", sharing="sum", pooling="mean", para_head="concat-linear", sts_head="cosine",
        epochs=40, head_lr=1e-2, batch_size=256, dropout=0.1),
    Recipe(
        name="sst-only",
        summary="Fine-tuned on SST alone, then evaluated on all three tasks.",
        source="The CS224N single-task baseline (minBERT part 1).",
        pooling="cls", para_head="diff-linear", sts_head="diff-linear", train_tasks=("sst",)),
    Recipe(
        name="multitask-cls",
        summary="All three datasets in round-robin batches; [CLS]; linear heads on the pair difference; BCE for paraphrase, MSE for similarity.",
        source='"minBERT and Downstream Tasks" (CS224N 2023) multitask baseline.',
        pooling="cls", para_head="diff-linear", sts_head="diff-linear"),
    Recipe(
        name="cosine-mean",
        summary="Mean pooling over non-padding tokens; similarity = 5 x cosine, trained with MSE.",
        source="Cosine-similarity fine-tuning (SBERT, Reimers & Gurevych 2019), as in several CS224N reports.",
        pooling="mean", para_head="diff-linear", sts_head="cosine"),
    SBERT_CONCAT,
    Recipe(
        name="dps-mse",
        summary="Project each sentence to r=64 dimensions; similarity = 5 x ReLU(dot product), MSE.",
        source="The DPS-MSE model (CS224N 2023 reports).",
        sharing="sum", sts_head="dot-product"),
    replace(SBERT_CONCAT, name="infonce",
            summary="sbert-concat plus contrastive InfoNCE: Quora duplicates are positives, the rest of the batch negatives (temperature 0.05).",
            source="SimCSE-style supervised contrastive learning (Gao et al. 2021); the CS224N report's temperature 0.007 failed.",
            contrastive=True),
    replace(SBERT_CONCAT, name="pcgrad",
            summary="sbert-concat trained with gradient surgery: a task gradient that conflicts with another is projected off it.",
            source="PCGrad (Yu et al. 2020), as used in CS224N multitask reports.",
            sharing="pcgrad"),
    Recipe(
        name="cross-encoder",
        summary="Both sentences in one sequence ([CLS] a [SEP] b [SEP]) for paraphrase and similarity; sentences alone for sentiment.",
        source="Cross-encoders (Devlin et al. 2019 sentence-pair fine-tuning): beyond the papers, usually strongest on pairs.",
        pair_encoding="cross", pooling="cls", para_head="joint-linear", sts_head="joint-sigmoid5", sharing="sum"),
    replace(SBERT_CONCAT, name="scratch",
            summary="The sbert-concat recipe from random initialisation: what pretraining buys.",
            source="Ablation: the same architecture, no pretrained weights.",
            encoder="scratch", freeze_word_embeddings=False, lr=2e-4, epochs=6),
    Recipe(
        name="ensemble", kind="ensemble",
        summary="The mean of the member variants' outputs (probabilities and scores), composed at prediction time; no training.",
        source="Ensembling, as in most top CS224N reports."),
]}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise KeyError(f"unknown variant {name!r}; known: {', '.join(RECIPES)}")
    return RECIPES[name]


def trainable_recipes() -> list[Recipe]:
    return [r for r in RECIPES.values() if r.kind == "model"]
