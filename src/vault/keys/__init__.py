"""Key management: system keys stored wrapped under the KEK, KEK and blind-index key rotation.

``vault.crypto`` holds the primitives and knows no tables; this package stores the
system keys and rewraps customer DEKs, so it sits above ``vault.customers``.
"""
