"""The local S3: a moto server subprocess, S3 -> SQS trigger wiring, and the SQS -> function bridge."""

from localcloud.s3.bridge import BridgeStats, Deliver, FailedDelivery, NotificationBridge
from localcloud.s3.events import dedupe_key, one_record_event, parse_s3_message
from localcloud.s3.moto_server import MotoS3Server, make_client
from localcloud.s3.trigger import TriggerSetup, setup_trigger, setup_trigger_with_clients

__all__ = [
    "BridgeStats",
    "Deliver",
    "FailedDelivery",
    "MotoS3Server",
    "NotificationBridge",
    "TriggerSetup",
    "dedupe_key",
    "make_client",
    "one_record_event",
    "parse_s3_message",
    "setup_trigger",
    "setup_trigger_with_clients",
]
