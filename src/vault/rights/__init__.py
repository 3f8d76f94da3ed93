"""Data subject rights: requests registry, export, rectification, erasure (crypto-shredding),
restriction and objection, retention.

The restriction/objection rule lives beside the customer record (:mod:`vault.customers.gate`);
key rotation in :mod:`vault.keys`. Import the services from their own modules.
"""
