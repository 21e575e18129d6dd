"""The embedded local cloud: a Lambda-like function platform, a gunicorn server, and S3 (moto server).

Kept import-free on purpose: execution environments import `localcloud.faas.runtime` and must start fast.
"""
