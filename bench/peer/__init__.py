"""The peer of the benchmark: django-import-export on a plain User model.

A standalone Django project (``bench.peer.settings``) with its own database, so
the peer is never part of the product's INSTALLED_APPS.
"""
