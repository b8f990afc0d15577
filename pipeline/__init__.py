"""newsletter: Markdown issues to responsive email, sent through Amazon SES."""

__version__ = "0.1.0"
