"""Identities: the ed25519 key a user signs requests with, and the signatures.

Used by the client (roar/remote) to sign and by the server to verify; it
knows nothing of either.
"""
