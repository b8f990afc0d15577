"""An issue: read a Markdown file into an `Issue`, check it, render it (MJML, inlined CSS, text
part), preview it. Knows no database and no transport.
"""
