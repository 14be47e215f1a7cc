"""asktell.testing: the loop conformance suite, importable by users for their own loops."""
