"""The `[theme]` table: one set of design values for the email, the web version, the
archive, the home page and every reader page.

Colours are checked where they enter: text, muted text and links must reach WCAG AA
contrast (4.5:1) against the backgrounds they stand on, in light and in dark mode, or the
settings are refused naming the pair and the ratio. The few colours a template needs
beyond these (code blocks, dividers) are mixed from them, so they follow a publisher's
choice instead of fighting it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.settings.values import control_problem
from pipeline.text import CONTROLS

AA = 4.5  # WCAG 2 AA for normal text
_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# A font stack stands in CSS and in an MJML attribute: names, commas, spaces, single quotes.
_FONT_STACK = re.compile(r"[A-Za-z0-9 ,'\-_.]+")
# A system stack first, with the Korean faces of each platform before the Latin fallbacks.
DEFAULT_FONT = (
    "-apple-system, BlinkMacSystemFont, 'Apple SD Gothic Neo', Pretendard, 'Malgun Gothic', "
    "'Noto Sans KR', 'Noto Sans CJK KR', 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
)
MONO_FONT = "SFMono-Regular, Consolas, 'Liberation Mono', Menlo, 'D2Coding', monospace"


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def luminance(colour: str) -> float:
    r, g, b = (_linear(c) for c in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    """WCAG 2's contrast ratio of two `#rrggbb` colours, from 1 to 21."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def mix(base: str, other: str, amount: float) -> str:
    """`base` moved `amount` (0-1) of the way towards `other`."""
    pairs = zip(_rgb(base), _rgb(other), strict=True)
    return "#" + "".join(f"{round(a + (b - a) * amount):02x}" for a, b in pairs)


@dataclass(frozen=True, slots=True)
class Logo:
    src: str
    alt: str
    width: int


class Theme(BaseModel):
    """What a publisher sets once in `[theme]` (or `NEWSLETTER_THEME__<KEY>`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # `font` is written into CSS and an MJML attribute unescaped: its check keeps it to
    # names, commas, spaces and single quotes.

    logo: str | None = None  # https only
    logo_alt: str | None = None  # default: the newsletter's name
    logo_width: int = Field(default=120, ge=16, le=600)  # CSS pixels
    accent: str = "#0b57d0"  # links and article titles
    description: str = ""  # home page, signup page, share previews
    # Light mode: the page around the content, the content's own background, its text.
    background: str = "#f3f4f6"
    surface: str = "#ffffff"
    text: str = "#1f2328"
    muted: str = "#57606a"
    # Dark mode (`prefers-color-scheme: dark`), the same roles.
    dark_background: str = "#15171a"
    dark_surface: str = "#1f2226"
    dark_text: str = "#e6e8eb"
    dark_muted: str = "#a8b0b9"
    dark_accent: str = "#8ab4f8"
    font: str = DEFAULT_FONT
    # The lists ticked for a reader on the signup form (by name); with one public list it
    # is ticked anyway.
    default_lists: list[str] = []

    @field_validator(
        "accent", "background", "surface", "text", "muted",
        "dark_background", "dark_surface", "dark_text", "dark_muted", "dark_accent",
    )  # fmt: skip
    @classmethod
    def _colour(cls, value: str) -> str:
        value = value.strip()
        if not _COLOUR.fullmatch(value):
            raise ValueError("must be a colour written #rrggbb (or #rgb), like '#0b57d0'")
        if len(value) == 4:
            value = "#" + "".join(c * 2 for c in value[1:])
        return value.lower()

    @field_validator("logo")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if (
            parts.scheme != "https"
            or not parts.hostname
            or re.search(r"[\s\"'<>\\]", value)
            or CONTROLS.search(value)
        ):
            raise ValueError(
                "must be an https URL of an image, like 'https://weekly.example.com/logo.png' "
                "(mail clients block plain http images)"
            )
        return value

    @field_validator("logo_alt", "description")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and (problem := control_problem(value)):
            raise ValueError(f"{problem}; it must be one line without control characters")
        if value is not None and len(value) > 300:
            raise ValueError(f"is {len(value)} characters; keep it under 300")
        return value.strip() if value else value

    @field_validator("font")
    @classmethod
    def _font(cls, value: str) -> str:
        if not _FONT_STACK.fullmatch(value):
            raise ValueError(
                "must be a CSS font stack of names, commas and single quotes, "
                "like \"'Noto Sans KR', sans-serif\""
            )
        return value

    @model_validator(mode="after")
    def _contrast(self) -> Theme:
        low = []
        for mode, pairs in (("light", self.light_pairs()), ("dark", self.dark_pairs())):
            for (fg_name, fg), (bg_name, bg) in pairs:
                ratio = contrast(fg, bg)
                if ratio < AA:
                    low.append(f"{fg_name} {fg} on {bg_name} {bg} is {ratio:.2f}:1 in {mode} mode")
        if low:
            raise ValueError(
                "colours below WCAG AA contrast (4.5:1 for text): "
                + "; ".join(low)
                + "; choose a darker or lighter colour for each"
            )
        return self

    def light_pairs(self) -> list[tuple[tuple[str, str], tuple[str, str]]]:
        return _pairs(
            {"text": self.text, "muted": self.muted, "accent": self.accent},
            {"background": self.background, "surface": self.surface, "code": self.code},
        )

    def dark_pairs(self) -> list[tuple[tuple[str, str], tuple[str, str]]]:
        return _pairs(
            {"dark_text": self.dark_text, "dark_muted": self.dark_muted,
             "dark_accent": self.dark_accent},
            {"dark_background": self.dark_background, "dark_surface": self.dark_surface,
             "dark_code": self.dark_code},
        )  # fmt: skip

    def logo_for(self, name: str) -> Logo | None:
        """The logo as the email and the pages show it, its alt text the name."""
        if self.logo is None:
            return None
        return Logo(self.logo, self.logo_alt or name, self.logo_width)

    # Colours mixed from the theme: code blocks, and quiet dividers in both modes.
    @property
    def code(self) -> str:
        return mix(self.surface, self.text, 0.06)

    @property
    def dark_code(self) -> str:
        return mix(self.dark_surface, self.dark_text, 0.06)

    @property
    def divider(self) -> str:
        return mix(self.surface, self.text, 0.12)

    @property
    def dark_divider(self) -> str:
        return mix(self.dark_surface, self.dark_text, 0.14)

    @property
    def mono(self) -> str:
        return MONO_FONT


def _pairs(
    foregrounds: dict[str, str], backgrounds: dict[str, str]
) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Every text colour on every background it may stand on (code: text only)."""
    found = []
    for fg in foregrounds.items():
        for bg in backgrounds.items():
            if bg[0].endswith("code") and not fg[0].endswith("text"):
                continue
            found.append((fg, bg))
    return found
