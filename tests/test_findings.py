"""The findings store (issue 31): schema and migrations, export/import, caps, permissions, an
unreachable database; on SQLite and on PostgreSQL (skipped with the reason when no server)."""
import csv
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from findings import BadValue, Deployment, FindingsSettings, Full, NotAllowed, Store, Unavailable, Writer
from findings.exchange import from_json, read_csv, to_json, write_csv
from findings.kept import KeptFile
from findings.store import MAX_NOTE, MAX_TAG, head_revision
from minibert.settings import SettingsError
from tests.findings_helpers import url_for

BACKENDS = ["sqlite", "postgresql"]
ANA = Writer("ana")
BEN = Writer("ben")
TEACHER = Writer("teacher", moderator=True)


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    s = Store(url_for(request.param, tmp_path / "a"))
    assert s.available, s.error
    yield s
    s.close()


def fill(s: Store) -> None:
    s.add_tag(ANA, "sst", "id1", "Sarcasm", variant="pcgrad")
    s.add_tag(ANA, "sst", "id2", "needs world knowledge")
    s.add_tag(BEN, "quora", "q,1", 'label "error"', shared=False)
    s.add_note(ANA, "sst", "id1", "comma, quote \" and\nnewline; ünïcode ✓", variant="pcgrad")
    s.add_note(BEN, "sts", "s9", "<script>alert(1)</script>", shared=False)
    s.save_slice(ANA, "short negations", "sst", {"kind": "errors", "min_words": 3, "search": "not"})
    sample = s.record_sample(ANA, "sst", "pcgrad", seed=7, population=120, example_ids=["id1", "id2"])
    s.add_tags(ANA, "sst", ["id3", "id4"], "ambiguous", variant="pcgrad", sample_id=sample["id"])
    # A kept upload whose packed text is over the csv module's default field limit (128 KiB).
    noise = random.Random(3).randbytes(150_000)
    s.keep_upload(BEN, "mine", [KeptFile("sts", "sts-dev-output.csv", noise, 863)])


def test_upgrade_creates_the_schema_the_code_reads(store):
    assert store.schema_matches() == []
    with store._engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head_revision()
    # Upgrading again (the next start of the app) keeps what is there.
    store.add_tag(ANA, "sst", "x", "negation")
    again = Store(store.url)
    assert again.available
    assert [r["tag"] for r in again.rows("tags", ANA)] == ["negation"]
    again.close()


def test_sqlite_is_wal_with_full_sync(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'f.sqlite'}")
    with s._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2   # FULL
    assert (tmp_path / "f.sqlite").is_file()


def test_export_then_import_into_an_empty_database_gives_the_same_export(store, tmp_path):
    fill(store)
    first = store.export()
    assert sum(len(rows) for rows in first["tables"].values()) == 10
    assert len(first["tables"]["uploads"][0]["predictions"]) > 131_072
    body = to_json(first)
    write_csv(first, tmp_path / "csv1")
    for target_backend in BACKENDS:
        for how in ("json", "csv"):
            if target_backend == "postgresql":
                if store.url.startswith("postgresql"):
                    continue        # the one PostgreSQL database is the source
                from tests.findings_helpers import PG_URL
                if not PG_URL:
                    continue
            target = Store(url_for(target_backend, tmp_path / f"{target_backend}-{how}"))
            limit = csv.field_size_limit()
            data = from_json(body) if how == "json" else read_csv(tmp_path / "csv1")
            assert csv.field_size_limit() == limit  # the process's limit, which the data readers rely on
            counts = target.import_(data)
            assert counts == {name: len(rows) for name, rows in first["tables"].items()}
            again = target.export()
            assert to_json(again) == body, (target_backend, how)
            write_csv(again, tmp_path / f"csv-{target_backend}-{how}")
            for name in first["tables"]:
                assert (tmp_path / f"csv-{target_backend}-{how}" / f"{name}.csv").read_bytes() == \
                       (tmp_path / "csv1" / f"{name}.csv").read_bytes()
            # Ids continue after the imported ones (PostgreSQL's sequence is moved past them).
            new = target.add_tag(BEN, "sst", "fresh", "idiom")
            assert new["id"] == max(r["id"] for r in first["tables"]["tags"]) + 1
            target.close()


def test_import_refuses_a_database_that_holds_findings(store):
    fill(store)
    with pytest.raises(BadValue, match="empty database"):
        store.import_(store.export())
    with pytest.raises(BadValue, match="revision"):
        store.import_({"findings_export": 1, "revision": "nope", "tables": {}})


def test_a_user_changes_only_their_own_and_an_instructor_moderates(store):
    tag = store.add_tag(ANA, "sst", "id1", "sarcasm")
    note = store.add_note(ANA, "sst", "id1", "mine")
    with pytest.raises(NotAllowed):
        store.remove_tag(BEN, tag["id"])
    with pytest.raises(NotAllowed):
        store.edit_note(BEN, note["id"], "overwritten")
    with pytest.raises(NotAllowed):
        store.delete_note(BEN, note["id"])
    assert [r["text"] for r in store.rows("notes", ANA)] == ["mine"]
    assert len(store.rows("tags", ANA)) == 1
    store.edit_note(ANA, note["id"], "edited")
    assert [r["text"] for r in store.rows("notes", ANA)] == ["edited"]
    store.remove_tag(TEACHER, tag["id"])
    assert store.rows("tags", ANA) == []


def test_readers_see_what_is_shared_and_their_own(store):
    store.add_note(ANA, "sst", "id1", "shared note")
    store.add_note(ANA, "sst", "id1", "private note", shared=False)
    assert [r["text"] for r in store.rows("notes", None)] == ["shared note"]
    assert [r["text"] for r in store.rows("notes", BEN)] == ["shared note"]
    assert [r["text"] for r in store.rows("notes", ANA)] == ["shared note", "private note"]
    assert len(store.rows("notes", TEACHER)) == 2


def test_tagging_twice_is_one_row_and_tags_are_normalised(store):
    a = store.add_tag(ANA, "sst", "id1", "  Needs   World knowledge ")
    b = store.add_tag(ANA, "sst", "id1", "needs world knowledge")
    assert a["id"] == b["id"] and a["tag"] == "needs world knowledge"
    assert store.add_tags(ANA, "sst", ["id1", "id2", "id2"], "needs world knowledge") == 1
    assert len(store.rows("tags", ANA)) == 2


def test_rows_are_capped_per_user_and_in_total(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'f.sqlite'}", max_per_user=3, max_rows=5)
    for i in range(3):
        s.add_tag(ANA, "sst", f"id{i}", "sarcasm")
    with pytest.raises(Full, match="most one user may keep here \\(3\\)"):
        s.add_note(ANA, "sst", "id0", "one more")
    with pytest.raises(Full):
        s.add_tags(ANA, "sst", ["a", "b"], "x")
    s.add_tag(BEN, "sst", "id0", "sarcasm")
    s.add_tag(BEN, "sst", "id1", "sarcasm")
    with pytest.raises(Full, match="its limit \\(5\\)"):
        s.add_tag(TEACHER, "sst", "id0", "sarcasm")
    assert sum(s.count().values()) == 5


def test_text_is_capped_and_checked(store):
    with pytest.raises(BadValue, match="at most 2,000"):
        store.add_note(ANA, "sst", "id1", "x" * (MAX_NOTE + 1))
    with pytest.raises(BadValue, match=f"at most {MAX_TAG}"):
        store.add_tag(ANA, "sst", "id1", "t" * (MAX_TAG + 1))
    with pytest.raises(BadValue, match="empty"):
        store.add_tag(ANA, "sst", "id1", "   ")
    with pytest.raises(BadValue, match="control"):
        store.add_note(ANA, "sst", "id1", "bell\x07")
    with pytest.raises(BadValue, match="task"):
        store.add_tag(ANA, "SST; DROP TABLE tags", "id1", "x")
    with pytest.raises(BadValue, match="cannot be saved"):
        store.save_slice(ANA, "bad", "sst", {"x": float("nan")})
    store.save_slice(ANA, "s", "sst", {"kind": "errors"})
    with pytest.raises(BadValue, match="already have a slice"):
        store.save_slice(ANA, "s", "sst", {"kind": "all"})
    assert sum(store.count().values()) == 1


def test_deployments_decide_who_writes():
    local = Deployment.detect("127.0.0.1", None)
    assert local.kind == "local" and local.writer() == Writer("local", moderator=True)
    space = Deployment.detect("0.0.0.0", "me/space", instructors=["teach", " prof"])
    assert space.writer() is None and space.writer(login_name="ana") is None
    assert space.writer("ana") == Writer("ana") and space.writer("prof") == Writer("prof", moderator=True)
    public = Deployment.detect("0.0.0.0", None)
    assert public.writer("ana") is None and "off" in public.why_not()
    assert public.writer(login_name="ana") == Writer("ana")


def test_the_database_file_follows_the_deployment(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    local = FindingsSettings.from_env({}, local_file=tmp_path / "x.sqlite", data_dir=data)
    assert local.url.endswith("x.sqlite") and local.warning is None
    space = FindingsSettings.from_env({"SPACE_ID": "a/b"}, data_dir=data, local_file=tmp_path / "x.sqlite")
    assert space.url == f"sqlite:///{data / 'findings.sqlite'}" and space.warning is None
    bare = FindingsSettings.from_env({"SPACE_ID": "a/b"}, data_dir=tmp_path / "none", local_file=tmp_path / "x.sqlite")
    assert bare.url.endswith("x.sqlite") and "restarts" in bare.warning
    chosen = FindingsSettings.from_env({"MINIBERT_DB_URL": "postgresql+psycopg://u@h/db", "SPACE_ID": "a/b"})
    assert chosen.url == "postgresql+psycopg://u@h/db" and chosen.warning is None
    with pytest.raises(SettingsError, match="MINIBERT_FINDINGS_MAX_ROWS"):
        FindingsSettings.from_env({"MINIBERT_FINDINGS_MAX_ROWS": "lots"})


def test_an_unreachable_database_reports_writes_unavailable(tmp_path):
    s = Store("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert not s.available and "cannot be used" in s.error
    with pytest.raises(Unavailable, match="unavailable"):
        s.add_tag(ANA, "sst", "id1", "sarcasm")
    with pytest.raises(Unavailable):
        s.rows("tags", ANA)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert not Store(f"sqlite:///{blocked / 'f.sqlite'}").available


def test_a_postgresql_url_without_its_driver_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    s = Store("postgresql+psycopg://u@127.0.0.1:1/db")
    assert not s.available and "pip install 'psycopg[binary]'" in s.error



def test_the_page_says_when_findings_vanish_or_cannot_be_written(tmp_path):
    from demo.findings_view import status_md

    ok = FindingsSettings.from_env({}, local_file=tmp_path / "f.sqlite")
    store = Store(ok.url)
    assert status_md(store, ok) == ""
    bare = FindingsSettings.from_env({"SPACE_ID": "a/b"}, data_dir=tmp_path / "none", local_file=tmp_path / "f.sqlite")
    assert "vanish" not in status_md(store, bare) and "until this Space restarts" in status_md(store, bare)
    down = Store("postgresql+psycopg://nobody@127.0.0.1:1/x")
    line = status_md(down, ok)
    assert line.startswith("⚠ Findings") and "unavailable" in line and "Everything else works" in line


def test_the_command_line_exports_and_imports(tmp_path, capsys):
    from findings.__main__ import main

    source = f"sqlite:///{tmp_path / 'a.sqlite'}"
    s = Store(source)
    fill(s)
    s.close()
    assert main(["export", "--url", source, "--json", str(tmp_path / "all.json"), "--csv", str(tmp_path / "csv")]) == 0
    target = f"sqlite:///{tmp_path / 'b.sqlite'}"
    assert main(["import", "--url", target, "--csv", str(tmp_path / "csv")]) == 0
    assert "imported 5 tags, 2 notes, 1 slices, 1 samples, 1 uploads" in capsys.readouterr().out
    assert main(["export", "--url", target, "--json", str(tmp_path / "again.json")]) == 0
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "all.json").read_bytes()
    assert main(["import", "--url", target, "--json", str(tmp_path / "all.json")]) == 1
    assert "empty database" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_writers_never_pass_the_cap(backend, tmp_path):
    url = url_for(backend, tmp_path)
    Store(url).close()  # create the schema once, before the race
    stores = [Store(url, max_per_user=1000, max_rows=10) for _ in range(8)]
    barrier = threading.Barrier(len(stores))

    def write(i: int) -> int:
        barrier.wait()
        saved = 0
        for k in range(5):
            try:
                stores[i].add_tag(Writer(f"user{i}"), "sst", f"id{i}-{k}", "sarcasm")
                saved += 1
            except Full:
                pass
        return saved

    with ThreadPoolExecutor(len(stores)) as pool:
        saved = sum(pool.map(write, range(len(stores))))
    assert saved == 10
    assert sum(stores[0].count().values()) == 10
    for s in stores:
        s.close()
