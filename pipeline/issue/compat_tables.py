"""The tables the compatibility lint reads HTML and CSS with: which caniemail feature an
element, attribute, property or value is, and which properties decide the layout."""

from __future__ import annotations

import re

# What decides where a box goes, how big it is, and whether its content shows.
LAYOUT_PROPERTIES = frozenset(
    (
        "display",
        "position",
        "top",
        "right",
        "bottom",
        "left",
        "inset",
        "z-index",
        "float",
        "clear",
        "width",
        "min-width",
        "max-width",
        "height",
        "min-height",
        "max-height",
        "inline-size",
        "block-size",
        "min-inline-size",
        "max-inline-size",
        "min-block-size",
        "max-block-size",
        "flex",
        "flex-direction",
        "flex-wrap",
        "flex-basis",
        "flex-grow",
        "flex-shrink",
        "justify-content",
        "align-items",
        "gap",
        "row-gap",
        "column-gap",
        "grid",
        "grid-template",
        "grid-template-columns",
        "grid-template-rows",
        "grid-template-areas",
        "columns",
        "column-count",
        "column-width",
        "table-layout",
        "visibility",
        "overflow",
        "overflow-x",
        "overflow-y",
        "transform",
        "aspect-ratio",
    )
)
# Values that leave a property as it was: a client that ignores them shows the same thing.
INITIAL = {
    "auto", "none", "normal", "initial", "inherit", "unset", "static", "visible", "0", "0px",
}  # fmt: skip
DEFAULT_DISPLAY = {
    "block": {
        "div", "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "blockquote",
        "pre", "hr", "center", "address", "form", "body", "html", "header", "footer",
        "section", "article", "aside", "nav", "main", "figure", "figcaption",
    },
    "inline": {"span", "a", "b", "i", "em", "strong", "code", "small", "s", "del", "u", "font"},
    "table": {"table"},
    "table-cell": {"td", "th"},
    "table-row": {"tr"},
    "list-item": {"li"},
}  # fmt: skip
# Features whose absence hides content: media, forms, embedded documents, images.
CONTENT_FEATURES = frozenset(
    (
        "html-audio",
        "html-video",
        "html-svg",
        "html-object",
        "html-picture",
        "html-form",
        "html-select",
        "html-textarea",
        "html-input-checkbox",
        "html-input-hidden",
        "html-input-radio",
        "html-input-reset",
        "html-input-submit",
        "html-input-text",
        "html-button-reset",
        "html-button-submit",
        "html-dialog",
        "html-marquee",
        "html-meter",
        "html-progress",
        "html-image-maps",
        "html-hidden",
    )
)
ELEMENTS = {
    **{
        tag: f"html-{tag}"
        for tag in (
            "abbr",
            "acronym",
            "address",
            "audio",
            "base",
            "bdi",
            "blockquote",
            "body",
            "code",
            "del",
            "dfn",
            "dialog",
            "div",
            "form",
            "hr",
            "img",
            "link",
            "marquee",
            "meter",
            "object",
            "p",
            "picture",
            "pre",
            "progress",
            "rp",
            "rt",
            "ruby",
            "select",
            "small",
            "span",
            "strike",
            "strong",
            "style",
            "svg",
            "table",
            "textarea",
            "video",
            "wbr",
        )
    },
    **{f"h{n}": "html-h1-h6" for n in range(1, 7)},
    **dict.fromkeys(("ul", "ol", "dl"), "html-lists"),
    **dict.fromkeys(
        (
            "article",
            "aside",
            "details",
            "figcaption",
            "figure",
            "footer",
            "header",
            "main",
            "mark",
            "nav",
            "section",
            "summary",
            "time",
        ),
        "html-semantics",
    ),
    "map": "html-image-maps",
}
ATTRIBUTES = {
    **{
        name: f"html-{name}"
        for name in (
            "align",
            "aria-describedby",
            "aria-hidden",
            "aria-label",
            "aria-labelledby",
            "aria-live",
            "background",
            "cellpadding",
            "cellspacing",
            "dir",
            "height",
            "hidden",
            "lang",
            "popover",
            "required",
            "role",
            "target",
            "valign",
            "width",
        )
    },
    "loading": "html-loading-attribute",
    "srcset": "html-srcset",
    "sizes": "html-srcset",
}
IMAGE_TYPES = {
    "png": "png", "jpg": "jpg", "jpeg": "jpg", "gif": "gif", "webp": "webp", "svg": "svg",
    "avif": "avif", "bmp": "bmp", "tif": "tiff", "tiff": "tiff", "ico": "ico", "heif": "heif",
    "heic": "heif", "apng": "apng", "mp4": "mp4",
}  # fmt: skip
# Longhands that caniemail files under their shorthand (border-left under border).
SHORTHANDS = ("border", "margin", "padding", "overflow", "background", "outline", "list-style")
PAIRS = {
    ("display", "flex"): "css-display-flex",
    ("display", "inline-flex"): "css-display-flex",
    ("display", "grid"): "css-display-grid",
    ("display", "inline-grid"): "css-display-grid",
    ("display", "none"): "css-display-none",
    ("flex-direction", "column"): "css-flex-direction",
    ("flex-wrap", "wrap"): "css-flex-wrap",
}
FUNCTIONS = {
    "calc": "css-unit-calc", "clamp": "css-function-clamp", "min": "css-function-min",
    "max": "css-function-max", "light-dark": "css-function-light-dark",
    "linear-gradient": "css-linear-gradient", "radial-gradient": "css-radial-gradient",
    "conic-gradient": "css-conic-gradient", "rgb": "css-rgb", "rgba": "css-rgba",
    "var": "css-variables", "lch": "css-modern-color", "oklch": "css-modern-color",
    "lab": "css-modern-color", "oklab": "css-modern-color",
}  # fmt: skip
UNITS = ("ch", "cm", "em", "ex", "in", "mm", "pc", "pt", "px", "rem", "vh", "vmax", "vmin", "vw")
UNIT = re.compile(r"\d(%|" + "|".join(sorted(UNITS, key=len, reverse=True)) + r")\b|\d%")
FUNCTION = re.compile(r"([a-z-]+)\(")
URL = re.compile(r"url\(\s*['\"]?([^'\")]+)")
