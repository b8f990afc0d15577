"""Campaigns: the recipients snapshot, the send loop, the send log, the shared pace; transports
behind one protocol.
"""
