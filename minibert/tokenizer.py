"""WordPiece tokenization from the backbone's own `tokenizer.json` (or `vocab.txt`).

The backbone's tokenizer.json pads and truncates everything to 128 tokens; both are switched
off and done here, per batch, so short sentences stay short and truncation is reported.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models, normalizers, pre_tokenizers, processors


@dataclass
class Batch:
    input_ids: torch.Tensor        # (b, t) long
    attention_mask: torch.Tensor   # (b, t) long, 1 for real tokens
    token_type_ids: torch.Tensor   # (b, t) long, 1 for the second sentence of a pair
    truncated: list[bool]          # per row: was anything cut to fit max_length

    def to(self, device: str | torch.device) -> Batch:
        return Batch(self.input_ids.to(device), self.attention_mask.to(device),
                     self.token_type_ids.to(device), self.truncated)


class Tokenizer:
    def __init__(self, folder: str | Path, max_length: int = 128):
        folder = Path(folder)
        if (folder / "tokenizer.json").is_file():
            self._tok = HFTokenizer.from_file(str(folder / "tokenizer.json"))
        elif (folder / "vocab.txt").is_file():
            self._tok = _from_vocab(folder / "vocab.txt")
        else:
            raise FileNotFoundError(f"{folder}: neither tokenizer.json nor vocab.txt found")
        self._tok.no_padding()
        self._tok.no_truncation()
        if max_length < 8:
            raise ValueError(f"max_length {max_length} is too small (at least 8)")
        self.max_length = max_length
        self.pad_id = self._tok.token_to_id("[PAD]")
        if self.pad_id is None:
            raise ValueError(f"{folder}: vocabulary has no [PAD] token")

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def tokens(self, text: str, text2: str | None = None) -> list[str]:
        return self._tok.encode(text, text2).tokens if text2 is not None else self._tok.encode(text).tokens

    def id_tokens(self, ids: Sequence[int]) -> list[str]:
        return [self._tok.id_to_token(i) for i in ids]

    def encode_ids(self, texts: Sequence[str], texts2: Sequence[str] | None = None) -> list[tuple[list[int], list[int], bool]]:
        """Per input: (ids, token types, truncated), each at most max_length long."""
        if texts2 is None:
            encodings = self._tok.encode_batch(list(texts))
        else:
            if len(texts) != len(texts2):
                raise ValueError(f"{len(texts)} first sentences but {len(texts2)} second sentences")
            encodings = self._tok.encode_batch(list(zip(texts, texts2)))
        return [self._fit(e.ids, e.type_ids) for e in encodings]

    def _fit(self, ids: list[int], types: list[int]) -> tuple[list[int], list[int], bool]:
        if len(ids) <= self.max_length:
            return ids, types, False
        cls, sep = ids[0], ids[-1]
        if types[-1] == 0:  # a single sentence: [CLS] a [SEP]
            kept = ids[:self.max_length - 1] + [sep]
            return kept, [0] * len(kept), True
        # A pair, [CLS] a [SEP] b [SEP]: trim the longer side first ("longest first"), so a
        # long question does not erase its short partner.
        n_first = types.count(0)
        a, b = ids[1:n_first - 1], ids[n_first:-1]
        budget = self.max_length - 3
        while len(a) + len(b) > budget:
            (a if len(a) >= len(b) else b).pop()
        return [cls] + a + [sep] + b + [sep], [0] * (len(a) + 2) + [1] * (len(b) + 1), True

    def collate(self, encoded: Sequence[tuple[list[int], list[int], bool]]) -> Batch:
        width = max(len(ids) for ids, _, _ in encoded)
        n = len(encoded)
        input_ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        types = torch.zeros((n, width), dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for row, (ids, tt, _) in enumerate(encoded):
            input_ids[row, :len(ids)] = torch.tensor(ids)
            types[row, :len(tt)] = torch.tensor(tt)
            mask[row, :len(ids)] = 1
        return Batch(input_ids, mask, types, [t for _, _, t in encoded])

    def __call__(self, texts: Sequence[str], texts2: Sequence[str] | None = None) -> Batch:
        return self.collate(self.encode_ids(texts, texts2))


def _from_vocab(vocab: Path) -> HFTokenizer:
    """A BERT-uncased WordPiece tokenizer built from a bare vocab.txt (folders without tokenizer.json)."""
    tok = HFTokenizer(models.WordPiece.from_file(str(vocab), unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=None, clean_text=True, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok
