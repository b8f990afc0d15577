"""A list file in an encoding other than UTF-8: read with `--encoding`, or by its byte order
mark (UTF-16, as Excel's "Unicode text" writes it); otherwise refused whole, once, naming
the encoding it most likely is. The files are written here by Python's own codecs."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.audience import encodings
from pipeline.audience import subscribers as lib
from pipeline.audience.listfile import ListFile, Row
from pipeline.db import Store
from pipeline.errors import InputError

KOREAN = [
    ("kim@example.com", "김민준"),
    ("lee@example.com", "이서연"),
    ("park@example.com", "박지호"),
]
ASCII_ROWS = 5_100  # more than one batch of the import, all written before the refusal


@pytest.fixture
def store_lists() -> tuple[str, ...]:
    return ("weekly",)


def _text(rows: list[tuple[str, str]], delimiter: str = ",") -> str:
    return "".join(f"{e}{delimiter}{n}\r\n" for e, n in [("email", "name"), *rows])


def _names(store: Store) -> dict[str, str | None]:
    with store.engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT email, name FROM subscribers").all())


@pytest.mark.parametrize("codec", ["cp949", "euc-kr"])
def test_a_korean_excel_csv_is_refused_once_naming_cp949_and_imports_with_it(
    store: Store, tmp_path: Path, codec: str
) -> None:
    plain = [(f"person{i}@example.com", f"Person {i}") for i in range(ASCII_ROWS)]
    path = tmp_path / "korea.csv"
    path.write_bytes(_text(plain + KOREAN).encode(codec))

    with pytest.raises(InputError) as refused:
        lib.import_csv(store, path, "weekly")
    assert f"korea.csv:{ASCII_ROWS + 2}: not UTF-8 text; it looks like cp949" in str(refused.value)
    assert "--encoding cp949" in str(refused.value.hint)
    assert _names(store) == {}  # not the ASCII rows before it either

    report = lib.import_csv(store, path, "weekly", encoding=codec)
    assert (report.added, report.invalid) == (ASCII_ROWS + 3, 0)
    assert {e: _names(store)[e] for e, _ in KOREAN} == dict(KOREAN)


@pytest.mark.parametrize(
    "written",
    [
        lambda text: text.encode("utf-16"),  # Python writes a BOM, in the machine's order
        lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),  # Excel's "Unicode text"
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    ],
    ids=["utf-16", "utf-16-le", "utf-16-be", "utf-8-bom"],
)
def test_a_byte_order_mark_says_the_encoding(store: Store, tmp_path: Path, written) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "unicode.txt"
    path.write_bytes(written(_text(KOREAN, "\t")))
    report = lib.import_csv(store, path, "weekly")
    assert (report.added, report.invalid) == (3, 0)
    assert _names(store) == dict(KOREAN)


@pytest.mark.parametrize(
    ("codec", "guessed"), [("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be")]
)
def test_utf16_without_a_byte_order_mark_is_named(
    store: Store, tmp_path: Path, codec: str, guessed: str
) -> None:
    path = tmp_path / "nobom.csv"
    path.write_bytes(_text(KOREAN).encode(codec))
    with pytest.raises(InputError, match=f"looks like {guessed}") as refused:
        lib.import_csv(store, path, "weekly")
    assert f"--encoding {guessed}" in str(refused.value.hint)
    lib.import_csv(store, path, "weekly", encoding=codec)
    assert _names(store) == dict(KOREAN)


def test_a_zip_member_in_cp949_is_named(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", _text([("a@example.com", "A")]))
        archive.writestr("b.csv", _text(KOREAN).encode("cp949"))
    with pytest.raises(
        InputError, match=r"export\.zip/b\.csv:2: not UTF-8 text; it looks like cp949"
    ):
        lib.import_csv(store, path, "weekly")
    assert _names(store) == {}
    lib.import_csv(store, path, "weekly", encoding="cp949")
    assert len(_names(store)) == 4


@pytest.mark.parametrize(
    ("content", "given", "said"),
    [
        (b"email\r\na@example.com\r\n", "klingon", "--encoding 'klingon': not an encoding"),
        (codecs.BOM_UTF8 + b"email\r\n", "cp949", "begins with a UTF-8 byte order mark, but"),
        ("email,name\r\na@example.com,김\r\n".encode(), "ascii", "list.csv:2: not valid ascii"),
        (codecs.BOM_UTF16_LE + "email\r\n".encode("utf-16-le") + b"\x00", None, "not valid utf-16"),
    ],
)
def test_a_wrong_encoding_is_a_clean_refusal(
    store: Store, tmp_path: Path, content: bytes, given: str | None, said: str
) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=said):
        lib.import_csv(store, path, "weekly", encoding=given)
    assert _names(store) == {}


_KOREAN_TEXT = st.text(
    st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3) | st.sampled_from("abc -'"),
    min_size=1,
    max_size=30,
).filter(lambda t: t.strip() and any("\uac00" <= c <= "\ud7a3" for c in t))


@given(name=_KOREAN_TEXT)
def test_any_korean_name_in_cp949_is_recognised_and_read_back(tmp_path_factory, name: str) -> None:  # type: ignore[no-untyped-def]
    # Only the Hangul that CP949 can write (its 2,350 KS X 1001 syllables and the rest).
    raw = name.encode("cp949")
    assert encodings.guess(raw) == ("cp949", "Korean; Excel in Korea saves CSV in it")
    path = tmp_path_factory.mktemp("cp949") / "list.csv"
    path.write_bytes(_text([("kim@example.com", name)]).encode("cp949"))
    with ListFile(path, encoding="cp949") as listfile:
        rows = [r for r in listfile if isinstance(r, Row)]
    assert [r.name for r in rows] == [name.strip()]
