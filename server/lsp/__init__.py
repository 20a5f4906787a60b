"""`prochemy-lsp`: the language-server front end (assembled in setup.py)."""
