"""caniemail's support data for the clients we check, vendored in `caniemail/`, read once.

The data comes from the `caniemail` npm package (MIT, its LICENSE and VERSION sit beside
the JSON). `make vendor-caniemail` repacks it and runs
`python -m pipeline.issue.compat_data SOURCE.json pipeline/issue/caniemail`, which checks
the shape and keeps only what the lint reads: every HTML, CSS and image feature, the
clients in `CLIENTS`, and each client's latest tested status with the notes it cites.
The loader applies the same shape check, so a malformed file is refused with a clear
message instead of a lint that silently reports nothing.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pipeline.errors import ConfigError

# The clients the issue names: Gmail (desktop webmail and the mobile apps), Outlook on
# Windows, Apple Mail (macOS and iOS) and Yahoo. Gmail's mobile-browser webmail is left
# out: it is a fallback few readers see, and it supports almost no CSS at all.
CLIENTS: dict[str, str] = {
    "gmail.desktop-webmail": "Gmail (desktop webmail)",
    "gmail.ios": "Gmail (iOS)",
    "gmail.android": "Gmail (Android)",
    "outlook.windows": "Outlook (Windows)",
    "apple-mail.macos": "Apple Mail (macOS)",
    "apple-mail.ios": "Apple Mail (iOS)",
    "yahoo.desktop-webmail": "Yahoo (desktop webmail)",
    "yahoo.ios": "Yahoo (iOS)",
    "yahoo.android": "Yahoo (Android)",
}
CATEGORIES = ("html", "css", "image")
DATA_FILE = "caniemail.json"
_STATUS = re.compile(r"^[ynau](?: #\d+)*$")
_HINT = "run `make vendor-caniemail` to fetch and check the data again"


@dataclass(frozen=True, slots=True)
class Support:
    """One client's latest tested support of one feature."""

    level: str  # "y" full, "a" partial, "n" none, "u" unknown
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Feature:
    slug: str
    title: str
    url: str
    support: dict[str, Support]  # by client key, e.g. "outlook.windows"


def _version_key(version: str) -> tuple[int, ...]:
    # Versions are years ("2019"), dates ("2024-05") or releases ("16.80"): compare numbers.
    return tuple(int(part) for part in re.findall(r"\d+", version))


def _refuse(where: str, what: str) -> ConfigError:
    return ConfigError(f"caniemail data {where}: {what}", hint=_HINT)


def _check_feature(item: object, index: int) -> dict[str, object]:
    where = f"feature #{index}"
    if not isinstance(item, dict):
        raise _refuse(where, "is not an object")
    for key in ("slug", "title", "category"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise _refuse(where, f"has no text field {key!r}")
    where = f"feature {item['slug']!r}"
    notes = item.get("notes_by_num") or {}
    stats = item.get("stats")
    if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
        raise _refuse(where, "has notes_by_num that is not an object of texts")
    if not isinstance(stats, dict):
        raise _refuse(where, "has no stats object")
    for family, platforms in stats.items():
        if not isinstance(platforms, dict):
            raise _refuse(where, f"stats for {family!r} is not an object")
        for platform, versions in platforms.items():
            if not isinstance(versions, dict) or not versions:
                raise _refuse(where, f"stats for {family}.{platform} has no versions")
            for version, status in versions.items():
                if not isinstance(status, str) or not _STATUS.match(status.strip()):
                    raise _refuse(where, f"{family}.{platform} {version} has the status {status!r}")
    return item


def check_shape(raw: object) -> list[dict[str, object]]:
    """The features of a caniemail data file, or a ConfigError naming what is wrong."""
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise _refuse("file", "is not an object with a `data` list of features")
    features = [_check_feature(item, index) for index, item in enumerate(raw["data"])]
    if not any(f["category"] == "css" for f in features):
        raise _refuse("file", "has no CSS features")
    return features


def _latest(stats: dict[str, dict[str, dict[str, str]]], client: str) -> str | None:
    family, platform = client.split(".", 1)
    versions = stats.get(family, {}).get(platform)
    if not versions:
        return None
    if len(versions) == 1:  # the vendored file keeps only the latest
        return next(iter(versions.values())).strip()
    return versions[max(versions, key=_version_key)].strip()


def trim(raw: object) -> dict[str, object]:
    """The subset the lint reads, in the same shape as caniemail's own file."""
    kept = []
    for item in check_shape(raw):
        if item["category"] not in CATEGORIES:
            continue
        stats: dict[str, dict[str, dict[str, str]]] = item["stats"]  # type: ignore[assignment]
        notes: dict[str, str] = item.get("notes_by_num") or {}  # type: ignore[assignment]
        trimmed: dict[str, dict[str, dict[str, str]]] = {}
        cited: set[str] = set()
        for client in CLIENTS:
            status = _latest(stats, client)
            if status is None:
                continue
            family, platform = client.split(".", 1)
            version = max(stats[family][platform], key=_version_key)
            trimmed.setdefault(family, {})[platform] = {version: status}
            cited.update(re.findall(r"#(\d+)", status))
        kept.append(
            {
                "slug": item["slug"],
                "title": item["title"],
                "category": item["category"],
                "url": item.get("url") or "",
                "notes_by_num": {n: notes[n] for n in sorted(cited, key=int) if n in notes},
                "stats": trimmed,
            }
        )
    assert isinstance(raw, dict)
    return {
        "api_version": raw.get("api_version"),
        "last_update_date": raw.get("last_update_date"),
        "data": kept,
    }


def parse(raw: object) -> dict[str, Feature]:
    """Features by slug, each with the latest support of every client in `CLIENTS`."""
    features: dict[str, Feature] = {}
    for item in check_shape(raw):
        stats: dict[str, dict[str, dict[str, str]]] = item["stats"]  # type: ignore[assignment]
        notes: dict[str, str] = item.get("notes_by_num") or {}  # type: ignore[assignment]
        support: dict[str, Support] = {}
        for client in CLIENTS:
            status = _latest(stats, client)
            if status is None:
                continue
            cited = tuple(notes[n] for n in re.findall(r"#(\d+)", status) if n in notes)
            support[client] = Support(status[0], cited)
        slug = str(item["slug"])
        features[slug] = Feature(slug, str(item["title"]), str(item.get("url") or ""), support)
    return features


@functools.cache
def load_features() -> dict[str, Feature]:
    """The vendored data, parsed once per process."""
    path = resources.files("pipeline.issue") / "caniemail" / DATA_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _refuse(f"file {DATA_FILE}", f"cannot be read: {exc}") from None
    return parse(raw)


def _dumps(trimmed: dict[str, object]) -> str:
    """One feature per line: small, and a refresh's diff shows which features changed."""
    head = {k: v for k, v in trimmed.items() if k != "data"}
    features = trimmed["data"]
    assert isinstance(features, list)
    rows = ",\n".join(json.dumps(f, ensure_ascii=False, sort_keys=True) for f in features)
    return (
        json.dumps(head, ensure_ascii=False, sort_keys=True)[:-1]
        + ', "data": [\n'
        + rows
        + "\n]}\n"
    )


def main(argv: list[str]) -> int:
    """`python -m pipeline.issue.compat_data SOURCE.json DEST_DIR`: check, trim, write."""
    if len(argv) != 2:
        print("usage: python -m pipeline.issue.compat_data SOURCE.json DEST_DIR", file=sys.stderr)
        return 2
    source, dest = Path(argv[0]), Path(argv[1])
    try:
        trimmed = trim(json.loads(source.read_text(encoding="utf-8")))
        parse(trimmed)  # what we write must load
    except (OSError, ValueError, ConfigError) as exc:
        print(f"{source}: {exc}", file=sys.stderr)
        return 1
    dest.mkdir(parents=True, exist_ok=True)
    text = _dumps(trimmed)
    (dest / DATA_FILE).write_text(text, encoding="utf-8")
    print(f"wrote {dest / DATA_FILE}: {len(trimmed['data'])} features")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
