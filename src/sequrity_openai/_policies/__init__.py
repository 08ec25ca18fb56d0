"""SQRT policies offline: syntax checking with the service's grammar and a policy checker.

Deliberately empty: ``_check`` is imported by the header models, while ``_checker`` imports
them; importing either module through this package must not drag in the other.
"""
