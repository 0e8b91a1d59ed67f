"""Sinks: where decoded results and annotated captures go."""
