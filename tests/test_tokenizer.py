import pytest

from minibert.backbone import default_backbone_dir
from minibert.data import ptb_to_plain, unescape_ptb
from minibert.tokenizer import Tokenizer

VARIED = [
    "hello, world!",
    "Café naïve résumé Zoë",
    "I loved it 😀🎬 !!",
    "-LRB- a PTB escape -RRB- and `` quotes '' and \\/ slash",
    "",
    "   ",
    "مرحبا بالعالم",
    "<script>alert('x')</script>",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "word " * 1000,  # 5,000 characters
]


@pytest.fixture(scope="module")
def backbone():
    return default_backbone_dir()


@pytest.fixture(scope="module")
def vocab(backbone):
    return {t: i for i, t in enumerate((backbone / "vocab.txt").read_text().splitlines())}


def test_ids_checked_by_hand(backbone, vocab):
    tok = Tokenizer(backbone)
    ids, types, truncated = tok.encode_ids(["hello, world!"])[0]
    assert ids == [101, 7592, 1010, 2088, 999, 102]
    assert types == [0] * 6 and not truncated
    # Looked up in vocab.txt (id = line number - 1): accents are stripped, as in bert-base-uncased.
    ids, _, _ = tok.encode_ids(["Café naïve"])[0]
    assert ids == [vocab["[CLS]"], vocab["cafe"], vocab["naive"], vocab["[SEP]"]] == [101, 7668, 15743, 102]


def test_matches_reference_wordpiece_on_varied_text(backbone):
    from transformers import BertTokenizer

    reference = BertTokenizer(str(backbone / "vocab.txt"), do_lower_case=True)
    tok = Tokenizer(backbone, max_length=100_000)
    for text in VARIED:
        ours, _, _ = tok.encode_ids([text])[0]
        assert ours == reference(text)["input_ids"], text[:40]


def test_ptb_escapes_become_plain_punctuation_before_tokenizing(backbone):
    tok = Tokenizer(backbone)
    raw = tok.tokens("-LRB- fine -RRB-")
    plain = tok.tokens(unescape_ptb("-LRB- fine -RRB-"))
    assert raw[1:5] == ["-", "l", "##rb", "-"]
    assert plain == ["[CLS]", "(", "fine", ")", "[SEP]"]


def test_plain_sst_text_tokenizes_as_typed_text_and_punctuation_joins_change_no_token(backbone):
    tok = Tokenizer(backbone)
    # "does n't" is [does, n, ', t]: a negation no one types. Rejoined, it is what the app is given.
    assert tok.tokens("it does n't work")[2:6] == ["does", "n", "'", "t"]
    assert tok.tokens(ptb_to_plain("it does n't work")) == tok.tokens("it doesn't work")
    assert tok.tokens(ptb_to_plain("I ca n't")) == tok.tokens("I can't")
    # BERT splits punctuation off anyway, so rejoining it only changes what a reader sees.
    ptb = "the Century 's new `` Conan '' -LRB- at all -RRB- , wait ... what ? $ 5 ; 100 % !"
    assert tok.tokens(ptb_to_plain(ptb)) == tok.tokens(unescape_ptb(ptb))


def test_pairs_get_token_types(backbone):
    tok = Tokenizer(backbone)
    batch = tok(["how are you"], ["fine thanks"])
    assert batch.input_ids[0].tolist() == [101, 2129, 2024, 2017, 102, 2986, 4283, 102]
    assert batch.token_type_ids[0].tolist() == [0, 0, 0, 0, 0, 1, 1, 1]


def test_truncation_is_reported_and_keeps_the_final_sep(backbone):
    tok = Tokenizer(backbone, max_length=16)
    batch = tok(["word " * 1000, "short"])
    assert batch.truncated == [True, False]
    assert batch.input_ids.shape[1] == 16
    assert batch.input_ids[0, -1].item() == 102


def test_pair_truncation_trims_the_longer_side_first(backbone):
    tok = Tokenizer(backbone, max_length=12)
    ids, types, truncated = tok.encode_ids(["a b"], ["c " * 50])[0]
    assert truncated and len(ids) == 12
    # the short first sentence survives whole: [CLS] a b [SEP], then 7 c's and [SEP]
    assert ids[:4] == [101, 1037, 1038, 102]
    assert types == [0] * 4 + [1] * 8


def test_empty_string_is_just_the_special_tokens(backbone):
    tok = Tokenizer(backbone)
    assert tok.encode_ids([""])[0] == ([101, 102], [0, 0], False)


def test_too_small_max_length_is_refused(backbone):
    with pytest.raises(ValueError, match="max_length 2"):
        Tokenizer(backbone, max_length=2)
