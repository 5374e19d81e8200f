"""`python -m demo.deploy`: what goes to a Space, the checks that stop a broken upload, and the
clear messages for a missing token or no network (never a traceback). Nothing here reaches the
network: uploads go to a recording stand-in for `HfApi` or to a closed local port."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo import deploy
from demo.app_testing import free_port
from demo.deploy import DeployFile

ROOT = Path(__file__).resolve().parents[1]


def run_deploy(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    # Hub settings of the caller's shell (CI sets offline mode) would decide these tests' outcome.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING", "TRANSFORMERS_OFFLINE"))}
    return subprocess.run([sys.executable, "-m", "demo.deploy", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=300)


@pytest.fixture(scope="module")
def real_set():
    files, problems = deploy.deploy_set()
    assert not problems, problems
    return files


@pytest.fixture()
def space_root(real_set, tmp_path):
    """A copy of the repository's deploy set, to break in place."""
    return deploy.assemble(real_set, tmp_path / "root")


@pytest.mark.slow
@pytest.mark.subprocess
def test_dry_run_lists_the_deploy_set_with_sizes_and_passes_its_checks():
    result = run_deploy("--space", "someone/minibert-explorer", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "checks passed" in out and "dry run: nothing uploaded to someone/minibert-explorer" in out
    listed = {line.split()[-1]: line for line in out.splitlines() if " KB " in line}
    for name in ("app.py", "requirements.txt", "README.md", ".gitattributes", "minibert/model.py", "demo/ui.py",
                 "analysis/tables/manifest.json", "analysis/tables/summary.json", *deploy.PACKAGE_DATA):
        assert name in listed, name
    # every checkpoint with every weight file its config names, every table the manifest names
    for config_path in (ROOT / "checkpoints").glob("*/config.json"):
        assert config_path.relative_to(ROOT).as_posix() in listed
        for name in json.loads(config_path.read_text()).get("storage", {}).get("files", {}):
            rel = config_path.parent.relative_to(ROOT).as_posix() + "/" + name
            assert rel in listed and "lfs" in listed[rel]
    manifest = json.loads((ROOT / "analysis/tables/manifest.json").read_text())
    tables = list(manifest["tables"]) + [e["file"] for e in manifest["examples"].values()]
    assert len(manifest["examples"]) == 3
    for rel in tables:
        assert f"analysis/tables/{rel}" in listed and "lfs" in listed[f"analysis/tables/{rel}"]
    assert not any(p.startswith("tests/") or p.endswith(".csv") for p in listed)
    assert f"{len(listed)} files" in out


def test_gitattributes_sends_every_binary_file_through_lfs(real_set):
    patterns = deploy.gitattributes().decode()
    for pattern in ("*.safetensors", "*.parquet", "*.png"):
        assert f"{pattern} filter=lfs diff=lfs merge=lfs -text" in patterns
    binary = [f for f in real_set if b"\0" in f.head()]
    assert binary and all(f.lfs for f in binary)


def test_checks_catch_what_must_never_ship(tmp_path):
    big = tmp_path / "big.safetensors"
    big.write_bytes(b"x" * (deploy.MAX_FILE_BYTES + 1))
    blob = tmp_path / "weights.npy"
    blob.write_bytes(b"\x93NUMPY\0\0")
    text = tmp_path / "t.py"
    text.write_text("x = 1\n")
    files = [DeployFile("checkpoints/a/model.safetensors", big), DeployFile("analysis/weights.npy", blob),
             DeployFile("tests/test_a.py", text), DeployFile("data/quora-dev.csv", text), DeployFile("ok.py", text)]
    problems = "\n".join(deploy.check_files(files))
    assert "checkpoints/a/model.safetensors: 10.0 MB, over the 10 MB" in problems
    assert "analysis/weights.npy: a binary file that no .gitattributes LFS pattern covers" in problems
    assert "tests/test_a.py: tests do not belong in a Space" in problems
    assert "data/quora-dev.csv: a data file" in problems
    assert "ok.py" not in problems


def test_readme_header_checks():
    reqs = "torch==2.13.0\ngradio==6.31.0\n"
    good = {"title": "T", "sdk": "gradio", "sdk_version": "6.31.0", "app_file": "app.py", "python_version": "3.11",
            "colorFrom": "indigo", "colorTo": "green"}
    assert deploy.check_header(good, {"app.py"}, reqs) == []
    bad = {**good, "sdk_version": "5.0.0", "app_file": "main.py", "python_version": 3.1, "colorTo": "teal"}
    del bad["title"]
    problems = "\n".join(deploy.check_header(bad, {"app.py"}, reqs))
    assert "field 'title' is missing" in problems
    assert "sdk_version '5.0.0' differs from requirements.txt's gradio==6.31.0" in problems
    assert "app_file 'main.py' is not in the deploy set" in problems
    assert "python_version 3.1 is not a quoted version like \"3.11\"" in problems
    assert "colorTo 'teal'" in problems
    with pytest.raises(deploy.DeployError, match="does not start with a `---` line"):
        deploy.read_header("# MiniBERT\n")
    with pytest.raises(deploy.DeployError, match="never closed"):
        deploy.read_header("---\ntitle: x\n# body\n")
    assert deploy.read_header((ROOT / "README.md").read_text())["sdk"] == "gradio"


@pytest.mark.slow
def test_a_missing_or_corrupt_weight_file_or_a_stale_table_stops_the_deploy(space_root):
    files, problems = deploy.deploy_set(space_root)
    assert not problems and not deploy.check(files)
    shard = next(space_root.glob("checkpoints/*/*.safetensors"))
    data = shard.read_bytes()
    shard.unlink()
    _, problems = deploy.deploy_set(space_root)
    assert any(f"{shard} is listed in {shard.parent / 'config.json'} but missing" in p for p in problems), problems
    shard.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit flipped
    _, problems = deploy.deploy_set(space_root)
    assert any(f"{shard}: its sha256 differs from the one in" in p for p in problems), problems
    # retrained weights, recorded in config.json: the shipped tables no longer describe this checkpoint
    from minibert.backbone import file_sha256

    config_path = shard.parent / "config.json"
    config = json.loads(config_path.read_text())
    config["storage"]["files"][shard.name] = file_sha256(shard)
    config_path.write_text(json.dumps(config))
    files, problems = deploy.deploy_set(space_root)
    assert not problems
    problems = deploy.check(files)
    assert any("stale table" in p and shard.parent.name in p for p in problems), problems


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_dry_run_that_finds_problems_says_so_and_uploads_nothing(space_root):
    (space_root / "README.md").write_text("# no header\n")
    result = run_deploy("--space", "someone/x", "--dry-run", "--root", str(space_root))
    assert result.returncode == 1
    assert "nothing was uploaded" in result.stderr and "does not start with a `---` line" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_no_token_gets_a_clear_message(tmp_path):
    result = run_deploy("--space", "someone/x", env={"HF_HOME": str(tmp_path)})
    assert result.returncode == 2
    assert "no Hugging Face token: set HF_TOKEN" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_no_network_gets_a_clear_message(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    result = run_deploy("--space", "someone/x", env={"HF_HOME": str(tmp_path), "HF_TOKEN": "hf_not_a_real_token",
                                                     "HF_ENDPOINT": closed})
    assert result.returncode == 2, result.stderr
    assert "cannot reach the Hugging Face Hub" in result.stderr and "check the network" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    result = run_deploy("--space", "someone/x", env={"HF_HOME": str(tmp_path), "HF_TOKEN": "hf_not_a_real_token",
                                                     "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2 and "offline mode is on" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.subprocess
def test_a_bad_space_name_is_refused():
    result = run_deploy("--space", "not a space", "--dry-run")
    assert result.returncode == 2 and "expected OWNER/NAME" in result.stderr


def test_upload_creates_the_space_and_replaces_its_files_with_the_deploy_set(real_set, monkeypatch):
    import huggingface_hub

    calls = []

    class RecordingApi:
        def __init__(self, token=None):
            calls.append(("token", token))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))

        def upload_folder(self, **kwargs):
            folder = Path(kwargs["folder_path"])
            uploaded = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
            calls.append(("upload_folder", kwargs, uploaded))

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    url = deploy.upload(real_set, "someone/minibert-explorer", "hf_token", private=True)
    assert url == "https://huggingface.co/spaces/someone/minibert-explorer"
    assert calls[0] == ("token", "hf_token")
    assert calls[1] == ("create_repo", "someone/minibert-explorer",
                        {"repo_type": "space", "space_sdk": "gradio", "exist_ok": True, "private": True})
    _, kwargs, uploaded = calls[2]
    assert kwargs["repo_id"] == "someone/minibert-explorer" and kwargs["repo_type"] == "space"
    assert kwargs["delete_patterns"] == "*"  # files no longer in the set leave the Space
    assert uploaded == sorted(f.path for f in real_set)


@pytest.mark.slow
def test_imported_variants_ship_only_when_asked(space_root):
    from analysis.imported import import_variant

    tables = space_root / "analysis" / "tables"
    example = ROOT / "tests" / "data" / "my-model"
    import_variant("mine", [(p.name, p.read_bytes()) for p in sorted(example.glob("*-dev-output.csv"))], tables,
                   space_root / "checkpoints")
    files, problems = deploy.deploy_set(space_root)
    assert not problems
    by_path = {f.path: f for f in files}
    assert not any("/mine/" in path for path in by_path)
    manifest = json.loads(by_path["analysis/tables/manifest.json"].text())
    assert not any(e["variant"] == "mine" for e in manifest["tables"].values()) and manifest["tables"]
    assert "mine" not in json.loads(by_path["analysis/tables/summary.json"].text())["variants"]
    assert not deploy.check(files)
    files, problems = deploy.deploy_set(space_root, with_imported=True)
    assert not problems and {f"analysis/tables/predictions/mine/{t}.parquet" for t in ("sst", "quora", "sts")} <= {
        f.path for f in files}
    assert not deploy.check(files)
