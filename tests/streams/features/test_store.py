"""Pure logic of the store's layout: packed float32 vectors, defaults where none is stored."""

from __future__ import annotations

import numpy as np
import pytest

from streams.features.store import DEFAULTS, N_ENTITY, pack, unpack_many


def test_unpack_fills_defaults_for_missing_and_malformed() -> None:
    row = np.arange(N_ENTITY, dtype=np.float32)
    rows = unpack_many([pack(row), None, b"\x00" * 3, pack(row * 2)])
    np.testing.assert_array_equal(rows.values[0], row)
    np.testing.assert_array_equal(rows.values[1], DEFAULTS)
    np.testing.assert_array_equal(rows.values[2], DEFAULTS)
    np.testing.assert_array_equal(rows.values[3], row * 2)
    assert rows.missing.tolist() == [False, True, True, False]
    with pytest.raises(ValueError):
        pack([1.0, 2.0])
