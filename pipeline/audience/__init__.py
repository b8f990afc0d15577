"""Subscribers and lists: the audience store, signup rules and suppression, imports and
exports, addresses, signed unsubscribe tokens.
"""
