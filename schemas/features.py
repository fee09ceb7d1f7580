"""The model's input layout: which numbers go into the feature vector, in which order.

One place owns this so that the event schema, the feature store, the Triton model
configuration and training all agree. A scoring input row is the event's own features
followed by the entity's features from the online store::

    [ amount, items, session_seconds, ... | avg_amount_30d, txn_count_7d, ... ]
      └──────── EVENT_FEATURES ────────┘   └────────── ENTITY_FEATURES ─────────┘
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AvroNumeric = Literal["int", "long", "float", "double", "boolean"]


@dataclass(frozen=True, slots=True)
class Feature:
    """One model input: its name, its Avro type on the event, and the value used when absent."""

    name: str
    avro_type: AvroNumeric
    default: float
    doc: str


EVENT_FEATURES: tuple[Feature, ...] = (
    Feature("amount", "double", 0.0, "Transaction amount in the account currency."),
    Feature("items", "int", 1.0, "Number of line items in the order."),
    Feature("session_seconds", "double", 0.0, "Seconds since the client session began."),
    Feature("distance_km", "double", 0.0, "Distance between the device and the billing address."),
    Feature("is_foreign", "boolean", 0.0, "The card was issued in another country."),
    Feature("hour_of_day", "int", 12.0, "Local hour of the event, 0-23."),
    Feature("device_age_days", "int", 0.0, "Days since the device was first seen."),
    Feature("merchant_risk", "double", 0.0, "Merchant risk score in [0, 1]."),
)

ENTITY_FEATURES: tuple[Feature, ...] = (
    Feature("avg_amount_30d", "double", 50.0, "Mean transaction amount over 30 days."),
    Feature("txn_count_7d", "double", 5.0, "Transactions in the last 7 days."),
    Feature("txn_count_24h", "double", 1.0, "Transactions in the last 24 hours."),
    Feature("chargeback_rate_90d", "double", 0.0, "Share of transactions charged back, 90 days."),
    Feature("account_age_days", "double", 365.0, "Days since the account was opened."),
    Feature("distinct_merchants_30d", "double", 3.0, "Distinct merchants over 30 days."),
    Feature("failed_logins_7d", "double", 0.0, "Failed logins in the last 7 days."),
    Feature("avg_distance_km_30d", "double", 10.0, "Mean device-to-billing distance, 30 days."),
)

EVENT_FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in EVENT_FEATURES)
ENTITY_FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in ENTITY_FEATURES)
FEATURE_NAMES: tuple[str, ...] = EVENT_FEATURE_NAMES + ENTITY_FEATURE_NAMES
N_FEATURES = len(FEATURE_NAMES)

# Triton tensor names shared by the model repository template and the client.
INPUT_TENSOR = "features"
OUTPUT_TENSOR = "score"
