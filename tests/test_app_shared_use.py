"""The app as a public Space sees it: many clients at once, some of them malformed. One bad
request harms no one else, every endpoint answers bad input with a message of its own, exports
and the queue stay bounded."""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from pathlib import Path

import pytest

# Many users on one served app (queues, full queues, bad requests): over a minute for the module.
pytestmark = pytest.mark.slow

pytest.importorskip("gradio")

from gradio_client.exceptions import AppError  # noqa: E402

from demo import attributions as A  # noqa: E402
from demo import compare_view as C  # noqa: E402
from demo import errors_view as E  # noqa: E402
from demo.app_testing import local_client, serve  # noqa: E402
from minibert.tasks import task  # noqa: E402

MODELS = ["tiny-cls", "tiny-cross", "tiny-mean"]
FILTERS = dict(task="Sentiment (SST)", variant="tiny-cls", kind="wrong", search="", min_words=0, max_words=0,
               other="(none)", relation="disagree with it", slice="(none)", cell="", word="", regex="", feature="(none)")


@pytest.fixture(scope="module")
def app(ctx):
    with serve(ctx) as (url, demo):
        yield url, local_client(url, download_files=False)


def plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def raw_call(url: str, endpoint: str, args: list):
    """An endpoint called over plain HTTP with ASCII-escaped JSON, as a hand-written client may:
    how a lone UTF-16 surrogate (which gradio_client cannot encode) reaches the app."""
    import httpx

    body = json.dumps({"data": args}).encode()  # ensure_ascii: "\ud800" travels escaped
    api = f"{url}gradio_api/call{endpoint}"
    event = httpx.post(api, content=body, headers={"Content-Type": "application/json"}, timeout=60).json()["event_id"]
    with httpx.stream("GET", f"{api}/{event}", timeout=120) as stream:
        kind = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind in ("complete", "error"):
                data = json.loads(line[5:])
                if kind == "error":
                    raise RuntimeError(data)
                return data[0] if len(data) == 1 else tuple(data)
    raise RuntimeError("no answer")


@pytest.fixture
def slow_models(ctx):
    """Every model call takes 0.25 s longer, so that concurrent requests meet in one batch."""
    originals = {}
    for name in MODELS:
        variant = ctx.variants[name]
        originals[name] = variant.score_tasks

        def slow(inputs, _original=variant.score_tasks):
            time.sleep(0.25)
            return _original(inputs)

        variant.score_tasks = slow
    yield
    for name, original in originals.items():
        ctx.variants[name].score_tasks = original


# --- isolation ----------------------------------------------------------------------------------

MALFORMED = [
    (("Sentiment", "a film", "", None), "Select at least one variant."),
    (("Sentiment", "a film", "", []), "Select at least one variant."),
    (("Sentiment", "a film", "", ["tiny-cls", "nope"]), "Unknown variant 'nope': choose from “tiny-cls”"),
    (("Nonsense", "a film", "", MODELS), "Unknown task 'Nonsense': choose one of “All three”"),
    ((42, "a film", "", MODELS), "Unknown task 42: choose one of"),
    (("Sentiment", ["a", "list"], "", MODELS), "Sentence A must be text, not list ['a', 'list']."),
    (("Sentiment", "a film", "", {"tiny-cls": 1}), "The variants must be a list of names, not {'tiny-cls': 1}."),
    (("All three", "hello \ud800 world", "a pair", MODELS),
     "Sentence A holds a character that is not valid Unicode (at position 6): retype or paste it again."),
]


def test_one_bad_request_harms_no_one(app, ctx, slow_models, monkeypatch):
    """Eight users click Compare while a ninth sends malformed requests (and one of 1 MB): every
    well-formed request gets its own answer, every malformed one its own message, and no one sees
    another's text, although the two kinds were scored in the same batches."""
    url, _ = app
    batches: list[int] = []
    original = C.compare_many
    monkeypatch.setattr(C, "compare_many",
                        lambda variants, items, *rest: batches.append(len(items)) or original(variants, items, *rest))
    good = [(f"the film number {i} was {'good' if i % 2 else 'bad'}", MODELS[: 1 + i % 3]) for i in range(8)]
    bad = MALFORMED + [(("Sentiment", "huge " * 200_000, "", MODELS), None)]
    results: dict[str, object] = {}

    def user(key, args):
        try:
            if any(isinstance(a, str) and "\ud800" in a for a in args):
                results[key] = raw_call(url, "/compare", list(args))
                return
            client = local_client(url, download_files=False)
            results[key] = client.predict(*args, api_name="/compare")
        except Exception as exc:  # recorded: the assertions below say what went wrong
            results[key] = exc

    threads = [threading.Thread(target=user, args=(f"good{i}", ("Sentiment", text, "", names)))
               for i, (text, names) in enumerate(good)]
    threads += [threading.Thread(target=user, args=(f"bad{i}", args)) for i, (args, _) in enumerate(bad)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert max(batches) > 1, batches  # requests did share batches
    for i, (_, names) in enumerate(good):
        result = results[f"good{i}"]
        assert not isinstance(result, Exception), result
        summary, notes, table, *_ = result
        assert "Sentiment" in summary and "voting" in summary, summary
        shown = [r[0] for r in (table["value"] if "value" in table else table)["data"]]
        assert shown == names
        assert not any(word in summary + notes for word in ("Unknown", "Select", "nope", "must be", "huge"))
    for i, (_, expected) in enumerate(bad):
        result = results[f"bad{i}"]
        assert not isinstance(result, Exception), result
        summary, notes = result[0], result[1]
        if expected is None:  # 1 MB of text: scored, and the user is told what was read
            assert "voting" in summary and "Only the first 5,000 characters" in notes
        else:
            assert plain(summary).startswith(expected), summary
            assert "voting" not in summary


# --- bad input, endpoint by endpoint ----------------------------------------------------------------

ODD_TEXT = ["", "   ", "x" * 100_000, "a\x00b", "مرحبا بالعالم", "\u200b\u200b", "a \ud800 lone surrogate",
            "<script>alert(1)</script>",
            "[x](javascript:alert(1))", "**bold**"]
WRONG_TYPES = [None, 123, ["a", "list"], {"k": "v"}, True]

# endpoint -> (its arguments when well-formed, the names of those that are choices, how to read
# the answer's message or main text, whether that text is Markdown)
ENDPOINTS = {
    "/compare": ({"task": "All three", "a": "a fine film", "b": "a good film", "names": MODELS},
                 {"task", "names"}, lambda r: r[0] + r[1], True),
    "/explain": ({"names": ["tiny-cls"], "which": "Sentiment", "method": A.GRADIENT, "a": "a fine film",
                  "b": "a good film"}, {"names", "which", "method"}, lambda r: r, False),
    "/confusion": ({"task": "Sentiment (SST)", "variant": "tiny-cls"}, {"task", "variant"},
                   lambda r: json.dumps(r[1], ensure_ascii=False), False),
    "/errors": (FILTERS, {"task", "variant", "kind", "other", "relation", "slice", "cell", "feature"}, lambda r: r[1], True),
    "/cell_click": (FILTERS, {"task", "variant", "kind", "other", "relation", "slice", "cell", "feature"}, lambda r: r[1], True),
    "/export_csv": ({**FILTERS, "kind": "all examples"}, {"task", "variant", "kind", "other", "relation", "slice",
                                                          "cell", "feature"}, lambda r: r[1] or "file", True),
    "/example": ({"task": "Sentiment (SST)", "id": "x"}, {"task"}, lambda r: r[0], False),
    "/slices": ({"task": "Sentiment (SST)", "name": "length", "reference": "tiny-cls", "metric": "accuracy"},
                {"task", "name", "reference", "metric"}, lambda r: r[2], True),
    "/model": ({"name": "tiny-cls"}, {"name"}, lambda r: r[0], True),
}
NUMBERS = {"min_words", "max_words"}
# /cell_click runs the very handler of /errors on the same inputs, and /export_csv reads them with
# the same parse_filters: /errors meets every value, these two one value of each kind per argument.
SAME_FILTERS = {"/cell_click", "/export_csv"}
ONE_OF_EACH_KIND = [None, ["a", "list"], "nope", "x" * 100_000, "a \ud800 lone surrogate"]


def cases():
    for endpoint, (good, choices, *_) in ENDPOINTS.items():
        for key in good:
            if endpoint in SAME_FILTERS and key != "cell":
                values = list(ONE_OF_EACH_KIND)
            elif key in choices or key in NUMBERS:
                values = WRONG_TYPES + ["nope", "<b>x</b>", "[x](javascript:alert(1))"]
            else:
                values = WRONG_TYPES + ODD_TEXT
            if key in NUMBERS:
                values += [-3, 1.5, 10**12, 10**400]
            if key == "cell":
                values += ["99,99", "-1,-1", "1", "a,b"]
            for value in values:
                yield endpoint, key, value


def should_refuse(key: str, value, choices: set) -> bool:
    """Whether `value` is one the endpoint cannot use (None and "" mean "not given")."""
    if value is None or value == "":
        return False
    if key in choices:  # every value tried for a choice is outside it
        return True
    if key in NUMBERS:
        return isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000
    if isinstance(value, str) and "\ud800" in value:
        return True
    return isinstance(value, bool) or not isinstance(value, (str, int, float))


@pytest.fixture(scope="module")
def example_id(ctx):
    return str(ctx.analysis.task("sst").examples["id"].iloc[0])


def test_every_endpoint_answers_bad_input_with_a_message(app, example_id, capfd, caplog):
    """Each argument of each named endpoint in turn replaced by odd text, a wrong type or a value
    outside its choices: the endpoint answers (no exception reaches the client or the server's
    log), a value it cannot use is named in a message, and user text never comes back as live
    HTML or a Markdown link."""
    url, client = app
    ENDPOINTS["/example"][0]["id"] = example_id
    caplog.set_level(logging.ERROR)
    refused = 0
    for endpoint, key, value in cases():
        good, choices, message_of, markdown = ENDPOINTS[endpoint]
        try:
            if isinstance(value, str) and "\ud800" in value:
                result = raw_call(url, endpoint, list({**good, key: value}.values()))
            else:
                result = client.predict(*{**good, key: value}.values(), api_name=endpoint)
        except (AppError, RuntimeError) as exc:
            pytest.fail(f"{endpoint} {key}={value!r:.40}: {exc}")
        text = message_of(result)
        assert isinstance(text, str) and text.strip(), (endpoint, key, value, result)
        dumped = json.dumps(result, ensure_ascii=False)
        assert "<script>" not in dumped and "<b>x</b>" not in dumped, (endpoint, key)
        if markdown:
            assert "[x](" not in text, (endpoint, key, text)
        if should_refuse(key, value, choices):
            refused += 1
            assert re.search(r"Unknown|must be|Select at least|outside|two whole numbers|not valid Unicode",
                             plain(text)), \
                (endpoint, key, value, text[:300])
    assert refused > 200
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_cell_outside_the_grid_is_named_never_mislabelled(app):
    _, client = app
    for cell in ("99,99", "-1,-1"):
        shown, line, note = client.predict(*{**FILTERS, "cell": cell}.values(), api_name="/cell_click")[:3]
        assert plain(line) == f"⚠ Cell “{cell}” is outside the Sentiment (SST) grid: gold and predicted go from 0 to 4."
        assert note == ""
    with pytest.raises(ValueError, match="not one of 0..4"):
        task("sst").label_text(-1)


# --- bounded resources ------------------------------------------------------------------------------

def test_exports_are_capped_and_only_the_last_is_kept(app, monkeypatch):
    _, client = app
    folder = E.export_folder()
    monkeypatch.setenv("MINIBERT_EXPORT_MAX_MB", "0.002")
    path, note = client.predict(*{**FILTERS, "variant": "(all variants)", "kind": "all examples"}.values(),
                                api_name="/export_csv")
    assert path is None or not path.get("visible", True)
    assert plain(note).startswith("⚠ The export would be larger than 0.002 MB (") and "narrow it" in note
    monkeypatch.delenv("MINIBERT_EXPORT_MAX_MB")
    for variant in MODELS:
        path, note = client.predict(*{**FILTERS, "variant": variant, "kind": "all examples"}.values(),
                                    api_name="/export_csv")
        assert note == "" and path
    assert [p.name for p in folder.glob("*.csv")] == ["errors-sst-tiny-mean.csv"]


def test_gradio_copies_of_exports_are_swept(ctx, monkeypatch):
    monkeypatch.setenv("MINIBERT_CACHE_SWEEP_S", "1")
    monkeypatch.setenv("MINIBERT_CACHE_MAX_AGE_S", "1")
    with serve(ctx) as (url, demo):
        path, _ = local_client(url, download_files=False).predict(
            *{**FILTERS, "kind": "all examples"}.values(), api_name="/export_csv")
        served = Path(path["value"]["path"] if "value" in path else path["path"])
        assert served.is_file() and served.parent != E.export_folder()
        deadline = time.time() + 20
        while served.exists() and time.time() < deadline:
            time.sleep(0.5)
        assert not served.exists()


def test_a_full_queue_says_busy(ctx, slow_models):
    """With room for two waiting events, a burst gets some "busy, try again" answers and the rest
    their results; nothing waits without bound."""
    with serve(ctx, max_size=2) as (url, demo):
        client = local_client(url, download_files=False)
        jobs = [client.submit("Sentiment", f"film {i}", "", ["tiny-cls"], api_name="/compare") for i in range(30)]
        answers, busy = 0, 0
        for job in jobs:
            try:
                summary, *_ = job.result(timeout=120)
                assert "voting" in summary
                answers += 1
            except Exception as exc:
                assert "Queue is full! Please try again." in str(exc), exc
                busy += 1
        assert busy >= 1 and answers >= 2
        # what a program that calls the HTTP API itself is told
        import httpx

        codes = []  # a burst larger than what two batches of 8 in progress and 2 waiting can hold
        for _ in range(40):
            r = httpx.post(f"{url}gradio_api/queue/join", json={"data": ["Sentiment", "film", "", ["tiny-cls"]],
                                                                  "fn_index": _compare_index(demo),
                                                                  "session_hash": f"s{len(codes)}"})
            codes.append((r.status_code, r.text))
        assert any(code == 503 and "Queue is full" in text for code, text in codes), codes


def _compare_index(demo) -> int:
    return next(i for i, fn in demo.fns.items() if fn.api_name == "compare")


def test_large_blocks_are_mapped_unless_the_host_set_the_threshold(monkeypatch):
    import platform

    from demo.context import map_large_blocks

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "4194304")
    assert map_large_blocks() is False  # the host's own setting stands
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    assert map_large_blocks() is (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
