"""Kept uploads in the findings store (issue 31, criterion 9): revision 0002 upgrades a database at
0001 and keeps its rows; the caps; only the owner lists, loads and deletes; a damaged row is a
message. On SQLite and on PostgreSQL (skipped with the reason when no server)."""
import pytest
from sqlalchemy import insert, text, update

from findings import BadValue, Full, NotAllowed, Store, Writer
from findings.kept import MAX_UNPACKED, KeptFile, UploadCaps, megabytes, pack, unpack
from findings.schema import notes, tags, uploads
from findings.store import head_revision, make_engine, upgrade
from tests.findings_helpers import url_for

BACKENDS = ["sqlite", "postgresql"]
ANA, BEN = Writer("ana"), Writer("ben")
TEACHER = Writer("teacher", moderator=True)
SST = KeptFile("sst", "sst-dev-output.csv", b"id \t Predicted_Sentiment \nx1 , 3 \n", 1)
STS = KeptFile("sts", "sts-dev-output.csv", b"id \t Predicted_Similiary \ny1 , 2.5 \n", 1)


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    return url_for(request.param, tmp_path)


@pytest.fixture
def store(url):
    s = Store(url)
    assert s.available, s.error
    yield s
    s.close()


def test_upgrading_a_database_at_0001_keeps_its_rows_and_adds_uploads(url):
    engine = make_engine(url)
    upgrade(engine, "0001")
    row = {"task": "sst", "example_id": "e1", "variant": "", "author": "ana", "created_at": "2026-01-01T00:00:00Z",
           "shared": True}
    with engine.begin() as conn:
        assert "uploads" not in _tables(conn)
        conn.execute(insert(tags), [{**row, "tag": "sarcasm", "sample_id": None}])
        conn.execute(insert(notes), [{**row, "text": "kept across the upgrade", "updated_at": row["created_at"]}])
    engine.dispose()
    s = Store(url)          # opening the store upgrades to the newest revision
    assert s.available, s.error
    assert head_revision() == "0002" and s.schema_matches() == []
    with s._engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0002"
    assert [r["tag"] for r in s.rows("tags", ANA)] == ["sarcasm"]
    assert [r["text"] for r in s.rows("notes", ANA)] == ["kept across the upgrade"]
    s.keep_upload(ANA, "mine", [SST])
    assert [k["name"] for k in s.kept_uploads(ANA)] == ["mine"]
    s.close()


def _tables(conn) -> set[str]:
    from sqlalchemy import inspect
    return set(inspect(conn).get_table_names())


def test_a_kept_upload_comes_back_byte_for_byte(store):
    kept = store.keep_upload(ANA, "mine", [SST, STS])
    assert kept["tasks"] == ["sst", "sts"] and kept["n_rows"] == 2
    assert store.kept_uploads(ANA) == [{"name": "mine", "tasks": ["sst", "sts"], "n_rows": 2,
                                         "size": kept["size"], "created_at": kept["created_at"]}]
    assert store.kept_upload(ANA, "mine") == [SST, STS]
    # Kept uploads are not findings: the findings caps and readers do not count them.
    assert store.count()["uploads"] == 2
    with pytest.raises(KeyError):
        store.rows("uploads", ANA)


def test_only_the_owner_lists_loads_and_deletes_a_kept_upload(store):
    store.keep_upload(ANA, "mine", [SST])
    for other in (BEN, TEACHER):            # a moderator too: an upload is its owner's alone
        assert store.kept_uploads(other) == []
        with pytest.raises(BadValue, match="no upload named 'mine'"):
            store.kept_upload(other, "mine")
        with pytest.raises(BadValue, match="no upload named 'mine'"):
            store.delete_kept_upload(other, "mine")
    assert store.kept_uploads(None) == []
    for call in (lambda: store.keep_upload(None, "x", [SST]), lambda: store.kept_upload(None, "mine"),
                 lambda: store.delete_kept_upload(None, "mine")):
        with pytest.raises(NotAllowed):
            call()
    with pytest.raises(BadValue, match="already keep an upload named 'mine'"):
        store.keep_upload(ANA, "mine", [STS])
    store.keep_upload(BEN, "mine", [STS])   # the same name is another user's own
    assert store.kept_upload(BEN, "mine") == [STS] and store.kept_upload(ANA, "mine") == [SST]
    store.delete_kept_upload(ANA, "mine")
    assert store.kept_uploads(ANA) == [] and [k["name"] for k in store.kept_uploads(BEN)] == ["mine"]
    with pytest.raises(BadValue, match="Choose one"):
        store.kept_upload(ANA, ["mine"])


def test_kept_uploads_are_capped_per_upload_per_user_and_in_total(tmp_path):
    big = KeptFile("quora", "para-dev-output.csv", bytes(range(256)) * 40, 10)
    size, small = len(pack(big.body)), len(pack(SST.body))
    # Room for ana's a, b and c and ben's a; ben's b would pass the total by one character.
    caps = UploadCaps(upload_bytes=size * 2, upload_rows=25, per_user=3, user_bytes=size * 2 + small,
                      total_bytes=size * 4 + small - 1)
    s = Store(f"sqlite:///{tmp_path / 'f.sqlite'}", upload_caps=caps)
    with pytest.raises(Full, match="26 rows; at most 25"):
        s.keep_upload(ANA, "many", [KeptFile("sst", "s", b"x", 20), KeptFile("sts", "t", b"y", 6)])
    three = [big, KeptFile("sst", "s", big.body, 1), KeptFile("sts", "t", big.body, 1)]
    with pytest.raises(Full, match=f"at most {megabytes(size * 2)} is kept for one upload"):
        s.keep_upload(ANA, "huge", three)
    s.keep_upload(ANA, "a", [big])
    s.keep_upload(ANA, "b", [big])
    with pytest.raises(Full, match=f"pass the {megabytes(size * 2 + small)} one user may keep"):
        s.keep_upload(ANA, "c", [big])
    s.keep_upload(ANA, "c", [SST])
    with pytest.raises(Full, match="You keep 3 uploads, the most one user may keep here \\(3\\)"):
        s.keep_upload(ANA, "d", [SST])
    s.keep_upload(BEN, "a", [big])
    with pytest.raises(Full, match="its limit"):
        s.keep_upload(BEN, "b", [big])
    # Nothing refused was half-written: one row per file kept.
    assert s.count()["uploads"] == 4 and [k["name"] for k in s.kept_uploads(ANA)] == ["a", "b", "c"]
    s.delete_kept_upload(ANA, "a")
    s.keep_upload(BEN, "b", [big])          # room again


def test_a_damaged_kept_row_is_a_message_not_a_crash(store):
    store.keep_upload(ANA, "mine", [SST])
    store.keep_upload(ANA, "bomb", [STS])
    with store._engine.begin() as conn:
        conn.execute(update(uploads).where(uploads.c.name == "mine").values(predictions="not base64 at all!"))
        conn.execute(update(uploads).where(uploads.c.name == "bomb").values(predictions=pack(b"0" * (MAX_UNPACKED + 1))))
    with pytest.raises(BadValue, match="'mine' cannot be read back: its sst file is damaged"):
        store.kept_upload(ANA, "mine")
    with pytest.raises(BadValue, match="more than 16 MiB"):
        store.kept_upload(ANA, "bomb")
    with pytest.raises(ValueError, match="cut short"):
        unpack(pack(SST.body)[:-8])


def test_an_export_of_revision_0001_imports(store, tmp_path):
    store.add_tag(ANA, "sst", "e1", "sarcasm")
    old = store.export()
    old["revision"] = "0001"
    del old["tables"]["uploads"]
    target = Store(f"sqlite:///{tmp_path / 'target.sqlite'}")
    assert target.import_(old)["tags"] == 1
    old["tables"]["uploads"] = []
    with pytest.raises(BadValue, match="unknown tables"):
        Store(f"sqlite:///{tmp_path / 'other.sqlite'}").import_(old)
