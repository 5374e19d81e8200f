"""Deploy the app to a Hugging Face Space in one command.

    python -m demo.deploy --space OWNER/NAME --dry-run    # list the files with sizes and check them
    python -m demo.deploy --space OWNER/NAME              # check, then upload (token: $HF_TOKEN or `hf auth login`)

The deploy set is exactly what the Space runs: `app.py`, `requirements.txt`, `README.md` (its YAML
header configures the Space), the code of `minibert/`, `analysis/`, `findings/` and `demo/`, every checkpoint
under `checkpoints/` with the files its config lists, the analysis tables the manifest lists (those of
variants imported from prediction files only with `--with-imported`), and a
generated `.gitattributes` that stores binary files through LFS/Xet, as the Hub requires. The same
checks run before every upload, so a broken set is never uploaded; an upload replaces every file
of the Space that is not in the set.
"""
from __future__ import annotations

import argparse
import fnmatch
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP_FILES = ("app.py", "requirements.txt", "README.md")
PACKAGES = ("minibert", "analysis", "findings", "demo")
# Data the code reads beside itself (the app's plain words, the label-error reading).
PACKAGE_DATA = ("demo/glossary.json", "analysis/label_error_reading.json")
CHECKPOINTS = "checkpoints"
TABLES = "analysis/tables"
# Binary files the Hub must receive through LFS/Xet (it refuses binary files in plain git).
LFS_PATTERNS = ("*.safetensors", "*.parquet", "*.bin", "*.pt", "*.png", "*.jpg", "*.jpeg", "*.gif", "*.webp")
MAX_FILE_BYTES = 10 * 2**20  # the project's budget for any shipped file
SPACE_COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
SPACE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
DATA_SUFFIXES = (".csv", ".tsv")


class DeployError(RuntimeError):
    """What stops a deploy, said so that the user can act on it (no traceback is shown)."""


@dataclass(frozen=True)
class DeployFile:
    path: str            # where it goes in the Space (posix, relative)
    source: Path | None  # where it comes from here; None for generated content
    content: bytes = b""

    @property
    def size(self) -> int:
        return self.source.stat().st_size if self.source is not None else len(self.content)

    def head(self, n: int = 8192) -> bytes:
        if self.source is None:
            return self.content[:n]
        with open(self.source, "rb") as handle:
            return handle.read(n)

    def text(self) -> str:
        return self.source.read_text() if self.source is not None else self.content.decode()

    @property
    def lfs(self) -> bool:
        return any(fnmatch.fnmatch(Path(self.path).name, p) for p in LFS_PATTERNS)


def gitattributes() -> bytes:
    return "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS).encode()


# --- what goes in --------------------------------------------------------------------------------


def _present(root: Path, paths: list[Path], problems: list[str], why_missing: str) -> list[DeployFile]:
    """The files of `paths` that exist; a problem (`why_missing` after the path) for each that does not."""
    files = []
    for path in paths:
        if path.is_file():
            files.append(DeployFile(path.relative_to(root).as_posix(), path))
        else:
            problems.append(f"{path} {why_missing}")
    return files


def _code_files(root: Path) -> list[DeployFile]:
    files = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                files.append(DeployFile(path.relative_to(root).as_posix(), path))
    return files + [DeployFile(rel, root / rel) for rel in PACKAGE_DATA if (root / rel).is_file()]


def _checkpoint_files(root: Path, problems: list[str]) -> list[DeployFile]:
    """config.json and the weight files it lists, of every checkpoint folder the app would load."""
    from minibert.checkpoint_config import CheckpointConfig, CheckpointError, checkpoint_folders, file_sha256

    folder = root / CHECKPOINTS
    if not folder.is_dir():
        problems.append(f"no {CHECKPOINTS}/ folder at {folder}: the Space would start with no variants")
        return []
    files = []
    for directory in checkpoint_folders(folder):
        config_path = directory / "config.json"
        try:
            config = CheckpointConfig.read(directory)
        except (CheckpointError, OSError) as error:
            problems.append(f"checkpoint {error}; the app would fail to load it")
            continue
        files.append(DeployFile(config_path.relative_to(root).as_posix(), config_path))
        listed = config.weight_files
        weights = _present(root, [directory / name for name in sorted(listed)], problems,
                           f"is listed in {config_path} but missing")
        for f in weights:
            if file_sha256(f.source) != listed[f.source.name]:
                problems.append(f"{f.source}: its sha256 differs from the one in {config_path} (corrupt or replaced); "
                                "the app would refuse to load it")
        files += weights
    return files


def _table_files(root: Path, problems: list[str], with_imported: bool = False) -> list[DeployFile]:
    """The manifest, the summary and every table the manifest lists. Variants imported from
    prediction files (`python -m analysis import`) are someone's own results: they ship only when
    asked, else the manifest and summary go without them."""
    import json

    from analysis import MANIFEST_NAME, SUMMARY_NAME, imported_variants, jsonable, read_manifest

    folder = root / TABLES
    manifest_path = folder / MANIFEST_NAME
    manifest, found = read_manifest(folder)
    if found:
        problems += [f"analysis tables: {p}" for p in found]
        return []
    left_out = set() if with_imported else imported_variants(manifest)
    tables = {rel: e for rel, e in manifest["tables"].items() if e.get("variant") not in left_out}
    listed = [*([] if left_out else [MANIFEST_NAME, SUMMARY_NAME]), *sorted(tables)]
    listed += sorted(entry["file"] for entry in manifest["examples"].values() if entry)
    if (manifest.get("intervals") or {}).get("file"):
        listed.append(manifest["intervals"]["file"])  # still current for a manifest that lists fewer tables
    files = _present(root, [folder / rel for rel in listed], problems,
                     f"is missing (listed in {manifest_path}); run `python -m analysis build`")
    if left_out:
        def generated(name: str, obj: dict) -> DeployFile:
            text = json.dumps(jsonable(obj), indent=1, sort_keys=True, allow_nan=False) + "\n"
            return DeployFile(f"{TABLES}/{name}", None, text.encode())

        files.append(generated(MANIFEST_NAME, {**manifest, "tables": tables}))
        summary_path = folder / SUMMARY_NAME
        if summary_path.is_file():
            summary = json.loads(summary_path.read_text())
            summary["variants"] = {v: x for v, x in summary.get("variants", {}).items() if v not in left_out}
            files.append(generated(SUMMARY_NAME, summary))
        else:
            problems.append(f"{summary_path} is missing (listed in {manifest_path}); run `python -m analysis build`")
    return files


def deploy_set(root: Path = ROOT, with_imported: bool = False) -> tuple[list[DeployFile], list[str]]:
    """Every file a Space needs, and the problems met while collecting them."""
    root = Path(root)
    problems: list[str] = []
    files = _present(root, [root / name for name in TOP_FILES], problems, "is missing")
    files += _code_files(root)
    files += _checkpoint_files(root, problems)
    files += _table_files(root, problems, with_imported)
    files.append(DeployFile(".gitattributes", None, gitattributes()))
    return sorted(files, key=lambda f: f.path), problems


# --- checks --------------------------------------------------------------------------------------


def read_header(readme: str) -> dict:
    """The YAML block between the two `---` lines that open README.md."""
    import yaml

    lines = readme.splitlines()
    if not lines or lines[0].strip() != "---":
        raise DeployError("README.md does not start with a `---` line: a Space reads its settings from that YAML header")
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        raise DeployError("README.md: the YAML header opened on line 1 is never closed with `---`") from None
    try:
        header = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as error:
        raise DeployError(f"README.md: the YAML header (lines 2-{end}) does not parse: {error}") from None
    if not isinstance(header, dict):
        raise DeployError("README.md: the YAML header is not a mapping of fields")
    return header


def pinned(requirements: str, package: str) -> str | None:
    for line in requirements.splitlines():
        match = re.match(rf"^\s*{re.escape(package)}\s*==\s*([^\s;#]+)", line, re.IGNORECASE)
        if match:
            return match.group(1)
    return None


def check_header(header: dict, paths: set[str], requirements: str) -> list[str]:
    problems = []
    for field in ("title", "sdk", "sdk_version", "app_file", "python_version"):
        if not header.get(field):
            problems.append(f"README.md header: field {field!r} is missing")
    if header.get("sdk") and header["sdk"] != "gradio":
        problems.append(f"README.md header: sdk is {header['sdk']!r}; this app needs 'gradio'")
    gradio = pinned(requirements, "gradio")
    if header.get("sdk_version") and str(header["sdk_version"]) != gradio:
        problems.append(f"README.md header: sdk_version {header['sdk_version']!r} differs from requirements.txt's "
                        f"gradio=={gradio} (the Space would run another Gradio than the one tested)")
    if header.get("app_file") and header["app_file"] not in paths:
        problems.append(f"README.md header: app_file {header['app_file']!r} is not in the deploy set")
    version = header.get("python_version")
    if version and not (isinstance(version, str) and re.fullmatch(r"3\.\d+(\.\d+)?", version)):
        problems.append(f"README.md header: python_version {version!r} is not a quoted version like \"3.11\" "
                        "(unquoted, YAML reads 3.10 as the number 3.1)")
    for field in ("colorFrom", "colorTo"):
        if field in header and header[field] not in SPACE_COLORS:
            problems.append(f"README.md header: {field} {header[field]!r} is not one of {', '.join(SPACE_COLORS)}")
    if len(str(header.get("short_description", ""))) > 60:
        problems.append("README.md header: short_description is longer than the Hub's 60 characters")
    return problems


def check_files(files: list[DeployFile]) -> list[str]:
    """Sizes, things that must never ship, binary files outside LFS."""
    problems = []
    for f in files:
        if f.size > MAX_FILE_BYTES:
            problems.append(f"{f.path}: {f.size / 2**20:.1f} MB, over the {MAX_FILE_BYTES // 2**20} MB per-file budget")
        if f.path.split("/")[0] == "tests":
            problems.append(f"{f.path}: tests do not belong in a Space")
        if f.path.lower().endswith(DATA_SUFFIXES):
            problems.append(f"{f.path}: a data file; the task data is never shipped (the dev examples travel as "
                            "analysis/tables/examples/*.parquet)")
        if not f.lfs and b"\0" in f.head():
            problems.append(f"{f.path}: a binary file that no .gitattributes LFS pattern covers; the Hub would refuse it")
    return problems


def check_loads(folder: Path) -> list[str]:
    """What the app itself will see in an assembled deploy folder: every checkpoint's config and
    files, and every analysis table, current with those checkpoints, with text and gold from the
    shipped examples (a Space has no data directory)."""
    import analysis
    from minibert.checkpoint_config import checkpoint_hashes

    problems = []
    hashes, found = checkpoint_hashes(folder / CHECKPOINTS)
    problems += [f"checkpoint {p}" for p in found]
    if not hashes:
        problems.append(f"no loadable checkpoint in {CHECKPOINTS}/")
    loaded = analysis.load(folder / TABLES, folder / "no-data-directory", checkpoints=hashes)
    problems += [f"analysis: {p}" for p in loaded.problems]
    missing = sorted(set(hashes) - set(loaded.variants()))
    if missing:
        problems.append(f"analysis: no dev-set tables for {', '.join(missing)}; run `python -m analysis build`")
    return problems


def check(files: list[DeployFile]) -> list[str]:
    by_path = {f.path: f for f in files}
    problems = check_files(files)
    readme, requirements = by_path.get("README.md"), by_path.get("requirements.txt")
    if readme is not None and requirements is not None:
        try:
            header = read_header(readme.text())
        except DeployError as error:
            problems.append(str(error))
        else:
            problems += check_header(header, set(by_path), requirements.text())
    with tempfile.TemporaryDirectory(prefix="minibert-space-") as tmp:
        problems += check_loads(assemble(files, Path(tmp)))
    return problems


# --- assemble and upload -------------------------------------------------------------------------


def assemble(files: list[DeployFile], dest: Path) -> Path:
    """Copy the deploy set into `dest` (a folder laid out like the Space)."""
    dest = Path(dest)
    for f in files:
        target = dest / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if f.source is not None:
            shutil.copyfile(f.source, target)
        else:
            target.write_bytes(f.content)
    return dest


def describe(files: list[DeployFile]) -> str:
    lines = [f"{f.size / 1024:10.1f} KB  {'lfs' if f.lfs else '   '}  {f.path}" for f in files]
    total = sum(f.size for f in files)
    lines.append(f"{len(files)} files, {total / 2**20:.2f} MB in all "
                 f"({sum(f.size for f in files if f.lfs) / 2**20:.2f} MB through LFS)")
    return "\n".join(lines)


def upload(files: list[DeployFile], space: str, token: str, private: bool) -> str:
    """Create the Space if needed and replace its files with the deploy set; returns its URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    api = HfApi(token=token)
    try:
        with tempfile.TemporaryDirectory(prefix="minibert-space-") as tmp:
            folder = assemble(files, Path(tmp))
            api.create_repo(space, repo_type="space", space_sdk="gradio", exist_ok=True, private=private)
            api.upload_folder(repo_id=space, repo_type="space", folder_path=folder, delete_patterns="*",
                              commit_message="Deploy MiniBERT Explorer (python -m demo.deploy)")
    except OfflineModeIsEnabled:
        raise DeployError("offline mode is on (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set): "
                          "unset it to upload to the Hub") from None
    except HfHubHTTPError as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        why = {401: "the token was refused (expired or mistyped?)",
               403: f"the token may not write to {space} (it needs write access to that owner)"}.get(status, str(error))
        raise DeployError(f"the Hub refused the upload to {space}: {why}") from None
    except (OSError, *_network_error_types()) as error:  # DNS, refused or reset connections, timeouts
        raise DeployError(f"cannot reach the Hugging Face Hub ({type(error).__name__}: {error}); "
                          "check the network, then run the command again") from None
    return f"https://huggingface.co/spaces/{space}"


def _network_error_types() -> tuple[type[BaseException], ...]:
    """The HTTP clients' transport errors (not OSErrors): huggingface_hub 2 sends through
    httpx2, older releases through httpx or requests."""
    import importlib

    found = []
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"), ("requests", "ConnectionError")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m demo.deploy", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", required=True, help="the Space to create or update, as OWNER/NAME")
    p.add_argument("--dry-run", action="store_true", help="list the deploy set with sizes and check it; upload nothing")
    p.add_argument("--private", action="store_true", help="create the Space as private (an existing Space keeps its setting)")
    p.add_argument("--token", default=None, help="Hugging Face token with write access (default $HF_TOKEN or the saved login)")
    p.add_argument("--with-imported", action="store_true",
                   help="also ship the variants imported with `python -m analysis import` (left out by default)")
    p.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not SPACE_ID.match(args.space):
        p.error(f"--space {args.space!r}: expected OWNER/NAME (letters, digits, '.', '_', '-'), e.g. alice/minibert-explorer")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        files, problems = deploy_set(Path(args.root), args.with_imported)
        print(describe(files))
        problems += check(files)
        if problems:
            print(f"\n{len(problems)} problem(s); nothing was uploaded:", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        print("checks passed: README header, file sizes, no tests or data files, LFS patterns, every checkpoint "
              "and table the app loads present and current")
        if args.dry_run:
            print(f"dry run: nothing uploaded to {args.space}")
            return 0
        from huggingface_hub import get_token

        token = args.token or get_token()
        if not token:
            raise DeployError("no Hugging Face token: set HF_TOKEN, pass --token, or run `hf auth login` "
                              "(the token needs write access)")
        url = upload(files, args.space, token, args.private)
        print(f"uploaded {len(files)} files to {url}")
        return 0
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deploy: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - a command-line tool reports, it never shows a traceback
        print(f"deploy failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
