"""The web app (Starlette): one-click unsubscribe, the SES event endpoint, the web version of
sent issues.
"""
