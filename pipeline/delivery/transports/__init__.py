"""Where a message goes: SES, or a dry run. A transport knows no database."""
