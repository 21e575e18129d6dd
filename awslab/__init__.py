"""The AWS side of the lab: deploy the handlers (CloudFormation), run the published experiments against
real Lambda / API Gateway / S3 / EC2, and collect CloudWatch REPORT lines and results into run dirs.

    python -m awslab deploy --image-uri ... --yes      create or update the stack, write the endpoints file
    python -m awslab memory-sweep --memory-mb 512,1024,2048 --yes
    python -m awslab cold-starts / probe / burst ... --yes
    python -m awslab memory-sweep --target local ...    the same experiments against the local cloud (no AWS)
    python -m awslab collect runs/<run-id>              REPORT lines + result objects, joined by request id
    python -m awslab destroy --yes                      empty the buckets, delete the stack

Nothing here runs without a confirmation flag when it creates billable resources or sends traffic.
"""
