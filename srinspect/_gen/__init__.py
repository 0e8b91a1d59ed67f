"""Build-time generators: code the build derives from the Python tables (outside the layers,
which never import them; setup.py and the tests do)."""
