"""The client side of the GLaaS protocol: remotes, push (register), fetch.

Sits above objects/refs/identity and below the CLI; docs/protocol.md is the
contract with roar/server.
"""
