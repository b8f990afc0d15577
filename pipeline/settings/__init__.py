"""The configuration: the schema of every setting (`schema`) and how the files and the
environment are read into it (`loading`).

Non-secret settings live in `newsletter.toml` at the project root; environment variables
named `NEWSLETTER_<KEY>` override them, and so does a `.env` file (git-ignored, for
secrets). Every bad value is reported at once, naming the key and where it came from.
"""

from pipeline.settings.loading import hide_password, load_settings
from pipeline.settings.schema import DEFAULT_CONFIG, ENV_PREFIX, SecretKey, Settings

__all__ = [
    "DEFAULT_CONFIG",
    "ENV_PREFIX",
    "SecretKey",
    "Settings",
    "hide_password",
    "load_settings",
]
