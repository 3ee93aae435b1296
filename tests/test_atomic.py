"""Atomic writes: a reader sees the old file or folder or the new one, an error leaves the old one, no scratch stays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.atomic import atomic_path, atomic_write
from trainer.buffer import GroupRolloutBuffer, StepRecord
from trainer.policy import left_pad
from trainer.run_dir import remove_temporaries


def test_a_file_is_replaced_in_one_rename_and_an_error_keeps_the_old_one(tmp_path):
    path = tmp_path / "config.yaml"
    atomic_write(path, "old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        assert path.read_text() == "old"  # nothing is visible before the block ends
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old"
    atomic_write(path, "new")
    assert path.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_a_folder_is_kept_when_another_writer_made_it_first_unless_told_otherwise(tmp_path):
    out = tmp_path / "model"
    with atomic_path(out, keep_existing=True) as tmp:
        tmp.mkdir()
        (tmp / "config.json").write_text("first")
        with atomic_path(out, keep_existing=True) as other:  # a second first use, finishing first
            other.mkdir()
            (other / "config.json").write_text("second")
    assert (out / "config.json").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with pytest.raises(OSError), atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "config.json").write_text("third")
    assert (out / "config.json").read_text() == "second"


def test_what_a_killed_writer_leaves_is_a_temporary_the_run_directory_removes(tmp_path):
    scratch = None
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "checkpoint.zip") as tmp:
        scratch = tmp.parent
        raise KeyboardInterrupt
    assert scratch is not None and not scratch.exists()  # cleaned on the way out
    (tmp_path / ".checkpoint.zip.tmp-abc").mkdir()  # as a SIGKILL leaves it
    (tmp_path / "progress.csv").write_text("")
    assert remove_temporaries(tmp_path) == [".checkpoint.zip.tmp-abc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["progress.csv"]


def test_left_pad_right_aligns_ids_and_float_rows():
    ids, mask = left_pad([[5, 6, 7], [8]], pad_value=1)
    assert ids.tolist() == [[5, 6, 7], [1, 1, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert ids.dtype == torch.long and mask.dtype == torch.long
    values, mask = left_pad([np.array([-0.5], np.float32), np.array([], np.float32)], 0.0, torch.float32, width=2)
    assert values.tolist() == [[0.0, -0.5], [0.0, 0.0]] and mask.tolist() == [[0, 1], [0, 0]]


def test_the_buffer_yields_typed_batches_whose_micro_batches_cover_them():
    buffer = GroupRolloutBuffer(estimator="grpo")
    for traj, reward in enumerate([1.0, 0.0, 0.0]):
        for step in range(2):
            record = StepRecord([1], [2], np.zeros(1, np.float32), reward * step, 0.0, f"s{step}", "o", 0, traj, step)
            buffer.add(record)
    advantages = buffer.compute_advantages()
    batches = list(buffer.minibatches(4, np.random.default_rng(0)))
    assert [len(b.rows) for b in batches] == [4, 2]
    rows = np.concatenate([b.rows for b in batches])
    assert sorted(rows.tolist()) == list(range(6))
    for batch in batches:
        assert batch.old_values is None and batch.returns is None  # no critic
        assert batch.advantages.dtype == np.float64
        np.testing.assert_array_equal(batch.advantages, advantages[batch.rows])
        assert all(r is buffer.records[j] for r, j in zip(batch.records, batch.rows, strict=True))
        micro = list(batch.micro_batches(3))
        assert np.concatenate([m.rows for m in micro]).tolist() == batch.rows.tolist()
        assert [id(r) for m in micro for r in m.records] == [id(r) for r in batch.records]
