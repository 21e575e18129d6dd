"""S3 upload replay: a trace's schedule sent as S3 uploads, open loop, joined with the S3 function's results.

`python -m replay TRACE` (see replay/__main__.py for options and defaults). Modules:
  options    ScheduleSpec (fixed for a run, kept in the manifest) and ReplayOptions; window parsing
  scheduler  the open-loop sender: worker threads pull slots and send each at its intended time
  locustengine  `--engine locust`: the same schedule sent by Locust processes (locustfiles/uploads.py), on
             this machine or on workers across machines
  signedput  SigV4-signed PUTs (the same Authorization as botocore's, cheaper per request)
  uploads    one PUT as a record (s3-put); object keys deterministic per run and schedule index
  retry      retries with full-jitter exponential backoff, every attempt recorded
  targets    the local cloud (started here), an S3 endpoint, or AWS S3
  results    fetching result objects and joining them with uploads (s3-infer)
  collect    collecting results while the replay runs; the final join with the REPORT lines
  resume     what a resumed run skips and when it sends the rest (re-based)
  progress   live counters and the one-line lag readout
  runner     one segment from schedule to join
"""
