#!/bin/bash
# Install and start the inference server (gunicorn handlers.server:app, N workers) on an Amazon Linux 2023
# EC2 instance, from the same container image as the Lambda function (same handler core, same baked model).
#
# The stack's UserData runs this body at first boot with the variables below set; to run it by hand on an
# instance of your own (root, instance role with ECR read access):
#   sudo IMAGE_URI=123456789012.dkr.ecr.us-east-1.amazonaws.com/loadlab:latest WORKERS=2 bash start-server.sh
#
#   IMAGE_URI   the pushed image (required)        WORKERS   gunicorn worker processes (default 2)
#   PORT        port served on the instance (80)    REGION    AWS region (default: the instance's)
#   LOG_GROUP   CloudWatch log group for the server's output (empty: the local json-file log)
#   MODEL_NAME, MODEL_SOURCE, MODEL_URI             the model, as for the function (default: the baked one)
#   MODEL_RUNTIME   onnxruntime (default) | opencv | openvino: the engine serving it, as for the function
# Shell variables are written $NAME (never with braces) so CloudFormation's Fn::Sub leaves them alone.
# --- start-server body ---
set -eo pipefail  # not -u: unset variables are the documented defaults
WORKERS=$(printf '%s' "$WORKERS" | tr -dc '0-9'); [ -n "$WORKERS" ] || WORKERS=2
PORT=$(printf '%s' "$PORT" | tr -dc '0-9'); [ -n "$PORT" ] || PORT=80
[ -n "$IMAGE_URI" ] || { echo "start-server: IMAGE_URI is not set" >&2; exit 2; }
if [ -z "$REGION" ]; then
  TOKEN=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token)
  REGION=$(curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/placement/region)
fi
echo "start-server: image $IMAGE_URI, $WORKERS workers, port $PORT, region $REGION"
dnf install -y docker
systemctl enable --now docker
REGISTRY=$(printf '%s' "$IMAGE_URI" | cut -d/ -f1)
case "$REGISTRY" in
  *.dkr.ecr.*) aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$REGISTRY" ;;
esac
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if docker pull "$IMAGE_URI"; then break; fi
  [ "$attempt" -lt 10 ] || { echo "start-server: cannot pull $IMAGE_URI" >&2; exit 4; }
  sleep 15
done
LOG_OPTS="--log-driver json-file"
if [ -n "$LOG_GROUP" ]; then
  LOG_OPTS="--log-driver awslogs --log-opt awslogs-group=$LOG_GROUP --log-opt awslogs-region=$REGION"
fi
MODEL_ENV=""
for name in MODEL_NAME MODEL_SOURCE MODEL_URI MODEL_RUNTIME; do
  value=$(printenv "$name" || true)
  [ -z "$value" ] || MODEL_ENV="$MODEL_ENV -e $name=$value"
done
docker rm -f loadlab-server >/dev/null 2>&1 || true
# shellcheck disable=SC2086  # LOG_OPTS and MODEL_ENV are lists of options
docker run -d --name loadlab-server --restart always -p "$PORT:8000" $LOG_OPTS $MODEL_ENV \
  -e MODEL_CACHE_DIR=/opt/models --entrypoint /var/lang/bin/python "$IMAGE_URI" \
  -m gunicorn handlers.server:app --workers "$WORKERS" --bind 0.0.0.0:8000 --timeout 120 --access-logfile -
for second in $(seq 1 180); do
  if curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; then
    echo "start-server: healthy after $second s at http://127.0.0.1:$PORT/predict"
    exit 0
  fi
  sleep 1
done
echo "start-server: /healthz did not answer within 180 s; see: docker logs loadlab-server" >&2
exit 4
