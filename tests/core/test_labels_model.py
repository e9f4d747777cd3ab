"""The pure rules of labels, rollouts and experiments (core/labels.py, live/views.py)."""

from __future__ import annotations

import json
import zlib

import pytest

from dynamic_prompt.core import labels as lab
from dynamic_prompt.live import views
from dynamic_prompt.live.cache import CacheEntry
from dynamic_prompt.live.client_base import ClientBase


def test_the_bucket_is_stable_and_the_two_step_form_agrees() -> None:
    # The documented rule (README): CRC-32 of the parts joined by 0x1f, modulo 10,000. A change
    # would move agents of every running rollout from one version to the other.
    for i in range(50):
        assert lab.bucket("support", f"agent-{i}") == zlib.crc32(f"support\x1fagent-{i}".encode()) % 10_000
    for key in ("u1", "user-12345", "ünïcode", "", "\udcff"):
        assert lab.bucket("p", "exp", key) == lab.bucket_after(lab.seed("p", "exp"), key)
        assert 0 <= lab.bucket("p", "exp", key) < lab.BUCKETS


def test_raising_a_rollout_only_adds_agents() -> None:
    agents = [f"host-{i}:{1000 + i}" for i in range(2000)]
    previous: set[str] = set()
    for percent in (1, 5, 10, 25, 40, 50, 75, 99, 100):
        inside = {a for a in agents if lab.Rollout(2, percent).includes("support", a)}
        assert previous <= inside
        assert abs(len(inside) / len(agents) - percent / 100) < 0.05
        previous = inside
    assert len(previous) == len(agents)


def test_an_experiment_splits_by_weight_and_the_clients_pick_is_choose() -> None:
    experiment = lab.Experiment.build("e1", [lab.Variant.parse("a=production:30"), lab.Variant.parse("b=exp-b:70")])
    keys = [f"user-{i}" for i in range(5000)]
    picks = [experiment.choose("support", k) for k in keys]
    assert abs(picks.count(0) / len(keys) - 0.3) < 0.03
    arms = tuple(views.Arm(v.name, CacheEntry(v.name, i + 1)) for i, v in enumerate(experiment.variants))
    entry = CacheEntry("a", 1, arms=arms, bounds=tuple(experiment.thresholds()), experiment="e1",
                       seed=lab.seed("support", "e1"))
    client = ClientBase.__new__(ClientBase)
    client._arm_reads = {}
    client.agent_id = "agent-1"
    for key, index in zip(keys[:500], picks):
        assert views.pick(entry, key).name == experiment.variants[index].name
        assert client._pick("support", entry, key).text == experiment.variants[index].name
    assert sum(client.arm_counts("support").values()) == 500


@pytest.mark.parametrize("raw", [None, b"", b"[]", b"{", b'{"staging": "x", "latest": -1, "Bad": 3}',
                                 json.dumps({"production": 9}).encode(), b"\xff\xfe"])
def test_other_programs_labels_read_as_none(raw: bytes | None) -> None:
    labels = lab.LabelSet.parse(raw, 4)
    assert labels.named == {} and labels.production == 4 and labels.latest == 4


@pytest.mark.parametrize("raw", [b"{}", b"[1]", b'{"rollout": {"version": "x"}}', b'{"rollout": {"version": 3, "percent": 500}}',
                                 b'{"experiment": {"variants": [{"name": "a"}]}}', b"\x00"])
def test_other_programs_releases_read_as_none(raw: bytes) -> None:
    release = lab.Release.parse(raw)
    assert not release.active


def test_bad_specs_are_one_line() -> None:
    for spec in ("a", "a=production", "a=production:x", "a=production:0", "=production:5", "a=Bad!:5"):
        with pytest.raises(lab.LabelError) as info:
            lab.Variant.parse(spec)
        assert "\n" not in str(info.value)
    for percent in ("0", "101", "abc", "12.345", "-5"):
        with pytest.raises(lab.LabelError):
            lab.check_percent(percent)
    assert lab.check_percent("40%") == 40.0
    # Two decimals in floats: 1.1 * 100 is 110.00000000000001, and 1.1 is a fine percentage.
    assert [lab.check_percent(p) for p in ("1.1", "0.07", "0.29", "99.99")] == [1.1, 0.07, 0.29, 99.99]
    for name in ("7", "v7", "V7"):
        with pytest.raises(lab.LabelError):
            lab.validate_label(name)  # a label that reads as a version could never be named
