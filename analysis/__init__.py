"""Pure functions from request records to summaries, and the renderers that turn summaries into reports."""
