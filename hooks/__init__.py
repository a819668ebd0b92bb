"""The template's hooks, importable so that tests can call their functions."""
