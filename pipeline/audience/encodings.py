"""Which text encoding a list file is in: the one `--encoding` names, else the one its byte
order mark says (UTF-8, or UTF-16 as Excel's "Unicode text" writes it), else UTF-8.

A file that turns out not to be in that encoding is refused whole, at the first line that
is not, naming the encoding it most likely is: refusing row by row would import the rows
that happen to be ASCII and drop every Korean name (Excel in Korea saves CSV as CP949).
"""

from __future__ import annotations

import codecs
import re

from pipeline.errors import InputError

# Longest first: no UTF-32 here, so no BOM is a prefix of another.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
# Bytes that the decoder could not read arrive as lone surrogates (errors="surrogateescape").
UNDECODABLE = re.compile("[\udc80-\udcff]")
# The encodings a spreadsheet saves CSV in besides UTF-8, each with the characters that
# show a decoding is the right one (a wrong one yields text, but not these).
_CANDIDATES = (
    # The Hangul syllables, by code point: a range of characters, not words for the catalogue.
    (
        "cp949",
        re.compile(f"[{chr(0xAC00)}-{chr(0xD7A3)}]"),
        "Korean; Excel in Korea saves CSV in it",
    ),
    ("shift_jis", re.compile("[\u3040-\u30ff]"), "Japanese"),
    ("gb18030", re.compile("[\u4e00-\u9fff]"), "Chinese"),
    ("cp1252", re.compile("[\u00c0-\u00ff]"), "Western European"),
)
_SAVE_AS = "or save it as UTF-8 (in Excel: Save As, 'CSV UTF-8')"


def resolve(start: bytes, given: str | None, where: str) -> str:
    """The codec to read a file with, from its first bytes and `--encoding` (`given`)."""
    found = next(((codec, title) for bom, codec, title in _BOMS if start.startswith(bom)), None)
    if given is None:
        return found[0] if found else "utf-8-sig"  # no BOM: read as UTF-8
    try:
        name = codecs.lookup(given).name
    except LookupError:
        raise InputError(
            f"--encoding {given!r}: not an encoding this knows",
            hint="for example utf-8, cp949 (Korean Excel), euc-kr, utf-16, shift_jis, cp1252",
        ) from None
    if found is not None and not name.startswith(found[1].lower()):
        raise InputError(
            f"{where}: the file begins with a {found[1]} byte order mark, but --encoding "
            f"{given} was given",
            hint="drop --encoding: the mark says how the file is written",
        )
    return "utf-8-sig" if name == "utf-8" else name


def not_decodable(where: str, line: int, raw: bytes, encoding: str) -> InputError:
    """The error for a file whose line `line` (its bytes: `raw`) is not in `encoding`."""
    if encoding.replace("_", "-") not in ("utf-8", "utf-8-sig"):
        return InputError(
            f"{where}:{line}: not valid {encoding} text",
            hint="name the file's real encoding with --encoding (utf-8, cp949, utf-16, ...)",
        )
    guessed = guess(raw)
    if guessed is None:
        return InputError(
            f"{where}:{line}: not UTF-8 text, and not an encoding this recognises",
            hint=f"name the file's encoding with --encoding (cp949 for Korean Excel), {_SAVE_AS}",
        )
    codec, what = guessed
    return InputError(
        f"{where}:{line}: not UTF-8 text; it looks like {codec} ({what}). Nothing was imported",
        hint=f"import it with --encoding {codec}, {_SAVE_AS}",
    )


def guess(raw: bytes) -> tuple[str, str] | None:
    """The encoding some bytes most likely are in, and what it is for; None if none fits."""
    if _mostly_nul(raw.count(0), len(raw)):
        # ASCII in UTF-16 is every other byte NUL: which ones says the byte order.
        odd = raw[1::2].count(0) > raw[0::2].count(0)
        return ("utf-16-le" if odd else "utf-16-be"), "UTF-16 without a byte order mark"
    for codec, shows, what in _CANDIDATES:
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        if shows.search(text):
            return codec, what
    return None


def _mostly_nul(nuls: int, length: int) -> bool:
    # UTF-16 read as bytes: every other one is NUL in ASCII text (a stray NUL is not that).
    return nuls * 3 >= length > 0


def looks_like_utf16(line: str, where: str) -> None:
    """Refuse a header of NUL characters: UTF-16 without a byte order mark read as UTF-8."""
    if _mostly_nul(line.count("\x00"), len(line)):
        raw = line.encode("utf-8", "surrogateescape")
        codec, what = guess(raw) or ("utf-16", "")
        raise InputError(
            f"{where}: the header holds NUL characters: it looks like {codec} ({what})",
            hint=f"import it with --encoding {codec}, {_SAVE_AS}",
        )
