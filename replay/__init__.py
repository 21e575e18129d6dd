"""S3 upload replay: uploads on a schedule (open loop), and the join with the S3-triggered function's results."""
