"""The pyarrow table writer against pandas' ``to_csv`` (the writer it replaces): the CSV read back has
the same columns and values; Parquet round-trips the frame exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.export.writers import write_output, write_table
from core.outputs import Table


def _voxel_like(n: int = 500, participant: str = "M01") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    c = rng.standard_normal(n).astype(np.float32)
    c[::7] = np.nan
    return pd.DataFrame({
        "participant": np.full(n, participant, dtype=object),
        "i": rng.integers(0, 90, n), "x": rng.integers(-45, 45, n) * 2.0 + 0.5,
        "C": c, "p": rng.random(n) ** 3, "significant": rng.random(n) < 0.2,
        "tiny": rng.standard_normal(n) * 1e-12, "huge": rng.standard_normal(n) * 1e300,
    })  # fmt: skip


def _assert_same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for col in a:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind == "f" or y.dtype.kind == "f":
            np.testing.assert_array_equal(x.astype(float), y.astype(float))  # repr round trip: exact
        else:
            np.testing.assert_array_equal(x, y, err_msg=col)


@pytest.mark.parametrize("participant", ["M01", "a,b", 'say "x"'])  # plain, and values that need quotes
def test_csv_reads_back_as_pandas_writer(tmp_path, participant):
    frame = _voxel_like(participant=participant)
    frame["cat"] = pd.Categorical(np.where(frame["significant"], "yes", "no"))
    frame["n"] = pd.array(np.where(frame["significant"], 3, None), dtype="Int64")
    frame.to_csv(tmp_path / "old.csv", index=False)
    path = write_table(frame, tmp_path / "new")
    assert path.name == "new.csv"
    old, new = pd.read_csv(tmp_path / "old.csv"), pd.read_csv(path)
    _assert_same_table(old, new)
    assert new["significant"].dtype == bool and new["participant"].iloc[0] == participant
    if participant == "M01":  # pandas' layout: plain header, no quotes, NaN as an empty field
        lines = path.read_text().splitlines()
        assert lines[0] == ",".join(frame.columns)
        assert lines[1].startswith("M01,") and ",," in path.read_text()


def test_whole_float_column_reads_back_equal(tmp_path):
    frame = pd.DataFrame({"x": [-70.0, 2.0, 4.0], "s": ["a", "b", "c"]})
    frame.to_csv(tmp_path / "old.csv", index=False)
    new = pd.read_csv(write_table(frame, tmp_path / "new"))
    np.testing.assert_array_equal(new["x"].astype(float), pd.read_csv(tmp_path / "old.csv")["x"])


def test_parquet_round_trip_and_table_format_attr(tmp_path):
    frame = _voxel_like()
    frame.attrs["table_format"] = "parquet"
    (path,) = write_output(Table("consistency_voxels", frame), tmp_path)
    assert path.name == "consistency_voxels.parquet"
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    with pytest.raises(ValueError, match="table_format"):
        write_table(frame, tmp_path / "bad", "xlsx")


def test_mixed_object_column_falls_back_to_pandas(tmp_path):
    frame = pd.DataFrame({"v": [1, "a", 2.5], "w": [1.0, np.nan, 3.0]})
    frame.to_csv(tmp_path / "old.csv", index=False)
    _assert_same_table(pd.read_csv(tmp_path / "old.csv"), pd.read_csv(write_table(frame, tmp_path / "new")))
