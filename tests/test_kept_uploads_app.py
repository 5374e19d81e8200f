"""Kept uploads in the app (issue 31, criterion 9): the upload panel's Keep / load / delete, with
constructed sign-ins (the Hub is unreachable here) on each kind of deployment; a kept upload loads
back into the tab checked again, joins the tabs' queries as a fresh upload does, and a damaged
row is a message; the per-tab one-hour upload stays the default. On the shipped analysis tables
and the example files of tests/data/my-model."""
import re
import types
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio.oauth import OAuthProfile
from pandas.testing import assert_frame_equal
from sqlalchemy import update

import analysis as A
from demo import uploads as U
from demo.tabs import upload_panel as P
from findings import FindingsSettings, Store
from findings.kept import KeptFile, pack
from findings.schema import uploads
from minibert.tasks import task as get_task

ROOT = Path(__file__).resolve().parents[1]
FILES = {p.name.split("-")[0]: str(p) for p in (ROOT / "tests" / "data" / "my-model").glob("*-dev-output.csv")}
SMALL = [FILES["sst"], FILES["sts"]]
SST, STS = get_task("sst").long_title, get_task("sts").long_title


@pytest.fixture(scope="module")
def a(tmp_path_factory):
    return A.load(ROOT / "analysis" / "tables", tmp_path_factory.mktemp("no-data") / "none", checkpoints=False)


@pytest.fixture(scope="module")
def small(a):
    up = U.read_upload(a, SMALL, "my-model")
    yield up
    U.forget(up)


def keeper(a, tmp_path, env=None, host=None, auth=False):
    settings = FindingsSettings.from_env(env or {}, host=host, auth=auth, data_dir=tmp_path / "none",
                                         local_file=tmp_path / "f.sqlite")
    store = Store(settings.url, upload_caps=settings.upload_caps)
    return P.Keeper(a, store, settings), store


def profile(name):
    return OAuthProfile({"preferred_username": name, "name": name.title(), "profile": "", "picture": ""})


def plain(markdown):
    """Markdown as read on screen: backslash escapes resolved."""
    return re.sub(r"\\(.)", r"\1", markdown)


def names(dropdown):
    return [c[0] for c in dropdown.choices]


def test_on_a_space_only_the_signed_in_owner_keeps_sees_loads_and_deletes(a, small, tmp_path):
    k, store = keeper(a, tmp_path, {"SPACE_ID": "class/explorer", "MINIBERT_INSTRUCTORS": "prof"})
    for who, request in ((None, None), (None, types.SimpleNamespace(username="ana"))):
        # No sign-in, or a login name that a Space does not use: nothing kept.
        message, _ = k.keep(small, who, request)
        assert "Sign in with Hugging Face" in message and "keep uploads" in message
    assert store.count()["uploads"] == 0
    message, listed = k.keep(small, profile("ana"), None)
    message = plain(message)
    assert message.startswith("Kept **my-model** (sst, sts;") and "for ana: 1 of your 5 kept uploads" in message
    assert names(listed) == ["my-model"] and listed.value == "my-model"
    for other in ("ben", "prof"):       # another user, an instructor too, neither sees nor loads nor deletes it
        assert names(k.listed(profile(other), None)) == []
        state, message, *_ = k.load(None, "my-model", SST, profile(other), None)
        assert not isinstance(state, U.Upload) and "You keep no upload named 'my-model'" in plain(message)
        message, _ = k.delete("my-model", profile(other), None)
        assert message.startswith("Not deleted") and names(k.listed(profile("ana"), None)) == ["my-model"]
    state, message, *_ = k.load(None, "my-model", SST, None, None)
    assert not isinstance(state, U.Upload) and "Sign in" in message
    message, listed = k.delete("my-model", profile("ana"), None)
    assert plain(message) == "Deleted your kept upload **my-model**." and names(listed) == []
    assert store.count()["uploads"] == 0


def test_a_public_deployment_keeps_only_with_gradios_login(a, small, tmp_path):
    k, store = keeper(a, tmp_path / "open", host="0.0.0.0")
    message, _ = k.keep(small, None, types.SimpleNamespace(username=None))
    assert "off on this public deployment" in message and store.count()["uploads"] == 0
    k, store = keeper(a, tmp_path / "login", host="0.0.0.0", auth=True)
    message, listed = k.keep(small, None, types.SimpleNamespace(username="ana"))
    assert "for ana" in message and names(listed) == ["my-model"]
    assert names(k.listed(None, types.SimpleNamespace(username="ben"))) == []


def test_a_kept_upload_loads_back_checked_and_joins_every_view(a, tmp_path):
    k, store = keeper(a, tmp_path)          # local: the one user keeps without signing in
    up = U.read_upload(a, list(FILES.values()), "my-model")
    message, _ = k.keep(up, None, None)
    assert "for local" in message
    kept = store.kept_uploads(k._who(None, None))[0]
    assert kept["tasks"] == ["sst", "quora", "sts"] and kept["n_rows"] == sum(len(f.ids) for f in up.files.values())
    message, _ = k.keep(up, None, None)
    assert "already keep an upload named 'my-model'" in plain(message)
    # A reload: the tab starts with no upload, and loads the kept one.
    state, message, variant, other = k.load(None, "my-model", STS, None, None)
    assert isinstance(state, U.Upload) and state.name == "my-model" and state.token != up.token
    n = len(up.files["quora"].ids)
    assert U.KEPT_NOTE in message and f"quora: {n:,} of {n:,} ids matched" in message
    assert variant.value == "my-model" and "my-model" in names(other)
    for task, f in up.files.items():
        g = state.files[task]
        assert g.ids == f.ids and np.array_equal(g.pred, f.pred) and g.pred.dtype == f.pred.dtype
        assert (f.probabilities is None) == (g.probabilities is None)
        if f.probabilities is not None:
            assert np.array_equal(g.probabilities, f.probabilities)
    # The Errors tab's metrics, and every tab that joins the session's upload (Why among them,
    # through `per_session`), see the same variant as the original upload.
    joined_names = P.per_session(lambda joined, *values: joined.variants("sts"), a)(state, STS)
    assert "my-model" in joined_names
    for t in ("sst", "quora", "sts"):
        assert_frame_equal(A.metrics_table(U.joined(a, state, t), t), A.metrics_table(U.joined(a, up, t), t))
        assert_frame_equal(U.joined(a, state, t).wide(t), U.joined(a, up, t).wide(t))
    U.forget(state)
    U.forget(up)


def test_a_damaged_or_no_longer_valid_kept_upload_is_a_message(a, small, tmp_path):
    k, store = keeper(a, tmp_path)
    local = k._who(None, None)
    k.keep(small, None, None)
    store.keep_upload(local, "pcgrad", [KeptFile("sts", "sts-dev-output.csv",
                                                 small.files["sts"].text(), len(small.files["sts"].ids))])
    with store._engine.begin() as conn:
        conn.execute(update(uploads).where(uploads.c.name == "my-model", uploads.c.task == "sst")
                     .values(predictions=pack(b"id \t Predicted_Sentiment \nnot-an-id , 9 \n")))
    state, message, *_ = k.load(small, "my-model", SST, None, None)
    assert not isinstance(state, U.Upload)          # the tab keeps the upload it had
    assert "no longer reads as a prediction file" in message and "is not a class 0..4" in message
    state, message, *_ = k.load(small, "pcgrad", STS, None, None)   # a name a shipped variant now has
    assert not isinstance(state, U.Upload) and "taken by a variant of this app" in message
    with store._engine.begin() as conn:
        conn.execute(update(uploads).where(uploads.c.name == "my-model").values(predictions="%%%"))
    state, message, *_ = k.load(small, "my-model", SST, None, None)
    assert not isinstance(state, U.Upload) and "Nothing was loaded" in message and "damaged" in message
    for odd in (None, 12, ["my-model"], "x" * 1000, "a\x00b", "<script>alert(1)</script>"):
        state, message, *_ = k.load(small, odd, SST, None, None)
        assert not isinstance(state, U.Upload) and message.startswith("⚠") and "<script>" not in message
    message, _ = k.keep(None, None, None)
    assert message.startswith("Nothing to keep")


def test_the_per_tab_hour_long_upload_stays_the_default(a, small, tmp_path):
    with gr.Blocks():
        plain = P.build(a)
    assert plain.kept is None and plain.state.time_to_live == U.TIME_TO_LIVE_S == 3600
    assert "a reload (or closing the tab) forgets it" in U.summary_text(small)
    k, _ = keeper(a, tmp_path)
    with gr.Blocks() as demo:
        panel = P.build(a, k)
        task = gr.Radio([SST, STS], value=SST)
        variant, other = gr.Dropdown(), gr.Dropdown()
        P.wire(panel, a, task, variant, other, lambda event: event)
    assert panel.kept is not None and panel.state.time_to_live == 3600
    api = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"upload", "keep_upload", "load_kept_upload", "delete_kept_upload"} <= api


def test_with_the_database_unreachable_keeping_says_so_and_the_upload_still_works(a, small, tmp_path):
    settings = FindingsSettings.from_env({}, local_file=tmp_path / "unused.sqlite")
    k = P.Keeper(a, Store("postgresql+psycopg://nobody@127.0.0.1:1/none"), settings)
    message, listed = k.keep(small, None, None)
    assert message.startswith("Not kept: Findings are unavailable") and names(listed) == []
    state, message, *_ = k.load(small, "my-model", SST, None, None)
    assert not isinstance(state, U.Upload) and "Nothing was loaded" in message
    assert "my-model" in U.joined(a, small, "sts").variants("sts")


@pytest.mark.slow
def test_over_http_a_kept_upload_outlives_the_tab_that_made_it(tmp_path):
    """Through the server: a tab uploads and keeps; a new session (a reload) does not have the
    upload until it loads the kept one. Locally the keeper is "local" (Gradio fills the handler's
    gr.OAuthProfile | None with None); on a Space without a sign-in nothing is kept."""
    from gradio_client import handle_file

    from demo.app_testing import local_client, serve
    from demo.context import load_context

    ctx = load_context(tmp_path / "no-checkpoints")
    for env in ({"SPACE_ID": "class/explorer"}, {}):
        ctx.findings_settings = FindingsSettings.from_env(env, data_dir=tmp_path / "none",
                                                          local_file=tmp_path / f"{bool(env)}.sqlite")
        ctx.findings = Store(ctx.findings_settings.url)
        with serve(ctx) as (url, _):
            tab = local_client(url)
            tab.predict([handle_file(p) for p in SMALL], "my-model", SST, api_name="/upload")
            message, listed = tab.predict(api_name="/keep_upload")
            if env:
                assert "Sign in with Hugging Face" in message and ctx.findings.count()["uploads"] == 0
                continue
            assert "for local" in message and listed["value"] == "my-model"
            reloaded = local_client(url)
            assert "my-model" not in str(reloaded.predict(api_name="/metrics"))
            message, variant, _ = reloaded.predict("my-model", SST, api_name="/load_kept_upload")
            assert U.KEPT_NOTE in message and variant["value"] == "my-model"
            assert "my-model" in str(reloaded.predict(api_name="/metrics"))
            message, listed = reloaded.predict("my-model", api_name="/delete_kept_upload")
            assert "Deleted" in message and ctx.findings.count()["uploads"] == 0


def test_an_upload_that_would_not_read_back_the_same_is_not_kept(a, tmp_path):
    lines = Path(FILES["para"]).read_text().split("\n")
    first = lines[1].split(" , ")
    lines[1] = " , ".join([first[0], "0", "0.49999999999 "])     # float32 makes it 0.5: pred 0 no longer fits
    edge = tmp_path / "para-dev-output.csv"
    edge.write_text("\n".join(lines))
    up = U.read_upload(a, [str(edge)], "edge")
    k, store = keeper(a, tmp_path)
    message, _ = k.keep(up, None, None)
    assert message.startswith("Not kept") and "do not read back the same" in plain(message)
    assert store.count()["uploads"] == 0
    U.forget(up)
