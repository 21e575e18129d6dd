"""Shared ground of the load lab: the request-record schema, run directories, typed config, errors."""
