"""The plain-text part, generated from the Markdown tokens (never scraped from the HTML).

Every link keeps its URL, nested lists keep their indentation, code stays verbatim.
"""

from __future__ import annotations

from markdown_it.token import Token


def inline_text(children: list[Token] | None) -> str:
    out: list[str] = []
    hrefs: list[tuple[str, int]] = []
    for token in children or []:
        kind = token.type
        if kind in ("text", "code_inline", "html_inline"):
            out.append(token.content)
        elif kind == "softbreak":
            out.append(" ")
        elif kind == "hardbreak":
            out.append("\n")
        elif kind == "link_open":
            hrefs.append((str(token.attrs.get("href", "")), len(out)))
        elif kind == "link_close" and hrefs:
            href, start = hrefs.pop()
            label = "".join(out[start:])
            if href and href not in (label, f"mailto:{label}"):
                out.append(f" ({href})")
        elif kind == "image":
            out.append(f"[{token.content or 'image'}] ({token.attrs.get('src', '')})")
    return "".join(out)


def blocks_text(tokens: list[Token]) -> str:
    """Render block tokens to text lines: lists indented two spaces a level."""
    lines: list[str] = []
    lists: list[list[int | None]] = []  # per open list: [counter or None for bullets]
    quote = 0
    marker_pending = False
    row: list[str] = []
    in_cell = False

    def emit(text: str, *, verbatim: bool = False) -> None:
        nonlocal marker_pending
        prefix = "> " * quote
        depth = len(lists)
        if depth:
            indent = "  " * (depth - 1)
            if marker_pending:
                counter = lists[-1][0]
                marker = "- " if counter is None else f"{counter}. "
                if counter is not None:
                    lists[-1][0] = counter + 1
                first, *rest = text.split("\n")
                lines.append(f"{prefix}{indent}{marker}{first}".rstrip())
                pad = " " * len(marker)
                lines.extend(f"{prefix}{indent}{pad}{r}".rstrip() for r in rest)
                marker_pending = False
                return
            indent += "  "
        else:
            indent = ""
        for part in text.split("\n"):
            lines.append(f"{prefix}{indent}{'    ' if verbatim else ''}{part}".rstrip())

    def blank() -> None:
        if lines and lines[-1] != "" and not lists:
            lines.append("")

    for token in tokens:
        kind = token.type
        if kind == "bullet_list_open":
            lists.append([None])
        elif kind == "ordered_list_open":
            lists.append([int(token.attrs.get("start", 1) or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            blank()
        elif kind == "list_item_open":
            marker_pending = True
        elif kind == "list_item_close" and marker_pending:
            emit("")  # an empty bullet still shows its marker
        elif kind in ("th_open", "td_open"):
            in_cell = True
        elif kind in ("th_close", "td_close"):
            in_cell = False
        elif kind == "inline" and in_cell:
            row.append(inline_text(token.children))
        elif kind == "inline":
            emit(inline_text(token.children))
        elif kind == "paragraph_close" or kind == "heading_close":
            blank()
        elif kind in ("fence", "code_block"):
            emit(token.content.rstrip("\n"), verbatim=True)
            blank()
        elif kind == "blockquote_open":
            quote += 1
        elif kind == "blockquote_close":
            quote -= 1
            blank()
        elif kind == "hr":
            emit("-" * 20)
            blank()
        elif kind == "tr_close":
            emit(" | ".join(row))
            row = []
        elif kind == "table_close":
            blank()
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines)
