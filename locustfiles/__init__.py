"""Locust scenarios: open-model (request-rate) inference load against the function platform and the server."""
