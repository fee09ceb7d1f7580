"""The input layout: a project's inputs as float32 columns, in order, built as the worker,
training and the golden set build them."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from schemas.project import FieldColumns
from tests.support.projects import FRAUD, example

DELIVERY = example("delivery")


def test_the_fraud_layout_is_the_sixteen_inputs_and_hashes_as_before() -> None:
    layout = FRAUD.layout
    assert layout.width == 16
    assert layout.columns[:2] == ("amount", "items")
    assert layout.columns[8:] == FRAUD.feature_names
    assert layout.feature_columns.tolist() == list(range(8, 16))
    # The hash of plain inputs is the one of model cards written before project files: the
    # ordered (name, Avro type) pairs.
    types = {"items": "int", "is_foreign": "boolean", "hour_of_day": "int",
             "device_age_days": "int"}  # fmt: skip
    old = [[name, types.get(name, "double")] for name in layout.columns]
    assert layout.hash == hashlib.sha256(json.dumps(old).encode()).hexdigest()


def test_one_hot_columns_take_the_unknown_bucket_and_the_default() -> None:
    layout = DELIVERY.layout
    web, other = layout.columns.index("channel=web"), layout.columns.index("channel=other")
    records = [
        {"distance_km": 3.0, "items": 2, "channel": "web", "is_express": True, "hour": 9,
         "tip": 1.5},
        {"distance_km": 3.0, "items": 2, "channel": "drone", "is_express": False, "hour": 9,
         "tip": None},
        {"distance_km": 3.0, "items": 2, "channel": None, "is_express": False, "hour": 9,
         "tip": 2.0},
    ]  # fmt: skip
    columns = FieldColumns.of_records(records, layout.number_fields, layout.text_fields)
    features = np.tile(DELIVERY.feature_defaults, (3, 1))
    x = layout.matrix(columns, features)
    block = x[:, web : other + 1]
    assert block.tolist() == [[1, 0, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]]  # None: default web
    tip = layout.columns.index("tip")
    assert x[:, tip].tolist() == [1.5, 0.0, 2.0]  # absent: the input's default
    distance = layout.columns.index("distance_km")
    assert np.allclose(x[:, distance], np.log1p(3.0))  # the transform


def test_clip_bounds_a_feature_and_defaults_fill_missing_vectors() -> None:
    layout = DELIVERY.layout
    speed = layout.columns.index("avg_speed_kmh")
    columns = FieldColumns.of_records(
        [{"distance_km": 1.0, "items": 1, "channel": "app", "is_express": False, "hour": 1,
          "tip": 0.0}] * 3, layout.number_fields, layout.text_fields,
    )  # fmt: skip
    features = np.tile(DELIVERY.feature_defaults, (3, 1))
    features[0, 0], features[1, 0] = 1.0, 99.0
    x = layout.matrix(columns, features)
    assert x[:, speed].tolist() == [5.0, 60.0, 18.0]


def test_an_index_encoding_is_one_column_of_codes() -> None:
    from schemas.project.layout import InputPlan, compile_layout

    plan = InputPlan("channel", "event", "channel", "categorical", "string", "web",
                     ("web", "app"), "other", one_hot=False)  # fmt: skip
    layout = compile_layout([plan], [])
    columns = FieldColumns(text={"channel": ["app", "web", "fax", None]})
    x = layout.matrix(columns, np.zeros((4, 0), dtype=np.float32))
    assert layout.columns == ("channel",)
    assert x[:, 0].tolist() == [1, 0, 2, 0]
