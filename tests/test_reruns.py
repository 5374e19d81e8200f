"""Records of reruns made elsewhere (a GPU machine) are adopted only by the checkpoint they describe."""
import json

import pytest

from minibert.checkpoint_config import FORMAT
from minibert.reruns import adopt_records


def _config(files_sha="aa", training=None):
    return {"format": FORMAT, "recipe": {"name": "pcgrad", "lr": 5e-5},
            "storage": {"files": {"model.safetensors": files_sha}}, "backbone": {"weights_sha256": "bb"},
            "training": training or {"seed": 1}}


def _write(root, name, config):
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / "config.json").write_text(json.dumps(config))


def test_only_changed_records_of_the_same_checkpoint_are_adopted(tmp_path):
    shipped, recorded = tmp_path / "checkpoints", tmp_path / "recorded"
    for name in ("pcgrad", "sbert-concat"):
        _write(shipped, name, _config())
        _write(recorded, name, _config())
    with_records = _config(training={"seed": 1, "seed_replicates": {"seeds": [1, 2, 3]}})
    _write(recorded, "pcgrad", with_records)
    untouched = (shipped / "sbert-concat" / "config.json").stat().st_mtime_ns

    assert adopt_records(recorded, shipped) == ["pcgrad"]
    assert json.loads((shipped / "pcgrad" / "config.json").read_text()) == with_records
    assert (shipped / "sbert-concat" / "config.json").stat().st_mtime_ns == untouched
    assert adopt_records(recorded, shipped) == []


def test_a_config_of_other_weights_is_refused_and_nothing_is_copied(tmp_path):
    shipped, recorded = tmp_path / "checkpoints", tmp_path / "recorded"
    for name in ("cosine-mean", "pcgrad"):
        _write(shipped, name, _config())
    _write(recorded, "cosine-mean", _config(training={"seed": 1, "lr_tries": []}))
    _write(recorded, "pcgrad", _config(files_sha="cc", training={"seed": 1, "lr_tries": []}))

    with pytest.raises(ValueError, match=r"pcgrad/config.json: not a config of the shipped pcgrad"):
        adopt_records(recorded, shipped)
    for name in ("cosine-mean", "pcgrad"):
        assert json.loads((shipped / name / "config.json").read_text()) == _config()
