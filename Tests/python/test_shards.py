"""Suites split across machines: `run --shard I/N` runs a stable part, `report --merge` puts the
shards back together and says which folder is wrong when they do not fit."""
import json
import os
import re
import subprocess
import tempfile
import textwrap

import pytest

from conftest import FLATLINE

QUICK = textwrap.dedent("""\
    name: {name}
    client:
      heartbeat: {{dialect: json, interval: 300ms, timeout: 150ms}}
    timeline:
      - after: client connected
        within: 5s
      - expect: client heartbeat-acked
        within: heartbeat.interval + 300ms
    """)


@pytest.fixture(scope="module")
def suite():
    folder = tempfile.mkdtemp(prefix="flatline-shards-")
    scenarios = os.path.join(folder, "scenarios")
    os.makedirs(scenarios)
    for name in ("alpha", "bravo", "charlie", "delta", "echo"):
        with open(os.path.join(scenarios, f"{name}.yaml"), "w") as f:
            f.write(QUICK.format(name=name))
    return folder, scenarios


def run_shard(folder, scenarios, shard, runs, *extra):
    result = subprocess.run([FLATLINE, "run", "--quiet", "--shard", shard, "--runs-dir", os.path.join(folder, runs), *extra, scenarios],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result
    with open(os.path.join(folder, runs, f"shard-{shard.replace('/', '-of-')}.json")) as f:
        return json.load(f)


def merge(folder, *runs, out="merged"):
    return subprocess.run([FLATLINE, "report", "--merge", *[os.path.join(folder, r) for r in runs], "--out", os.path.join(folder, out)],
                          capture_output=True, text=True, timeout=120)


def test_shards_split_the_suite_and_merge_into_one_index_and_junit(suite):
    folder, scenarios = suite
    first = run_shard(folder, scenarios, "1/2", "runs-1")
    second = run_shard(folder, scenarios, "2/2", "runs-2")
    assert sorted(first["files"] + second["files"]) == sorted(first["all"]), "every file in exactly one shard"
    assert not set(first["files"]) & set(second["files"])
    assert abs(len(first["files"]) - len(second["files"])) <= 1
    # Stable: the same split again.
    assert run_shard(folder, scenarios, "1/2", "runs-1b")["files"] == first["files"]

    result = merge(folder, "runs-1", "runs-2")
    assert result.returncode == 0, result
    assert "merged 2 shards: 5 scenarios, 5 passed, 0 failed" in result.stdout
    with open(os.path.join(folder, "merged", "junit.xml")) as f:
        junit = f.read()
    assert junit.count("<testsuite ") == 5 and 'failures="0"' in junit
    with open(os.path.join(folder, "merged", "index.html")) as f:
        index = f.read()
    assert len(re.findall(r'data-scenario="', index)) == 5
    for link in re.findall(r'href="([^"]+report\.html)"', index):
        assert os.path.exists(os.path.join(folder, "merged", link)), link
    with open(os.path.join(folder, "merged", "durations.json")) as f:
        durations = json.load(f)
    assert sorted(durations) == sorted(first["all"]) and all(v > 0 for v in durations.values())


def test_durations_balance_the_split(suite):
    folder, scenarios = suite
    files = sorted(os.path.join(scenarios, f) for f in os.listdir(scenarios))
    slow = {files[0]: 10.0, **{f: 1.0 for f in files[1:]}}
    path = os.path.join(folder, "durations.json")
    with open(path, "w") as f:
        json.dump(slow, f)
    first = run_shard(folder, scenarios, "1/2", "runs-d1", "--durations", path)
    assert first["files"] == [files[0]], "the long one alone on the first shard"


def test_merge_says_which_shard_is_missing_doubled_or_overlapping(suite):
    folder, scenarios = suite
    run_shard(folder, scenarios, "1/2", "m-1")
    run_shard(folder, scenarios, "2/2", "m-2")
    missing = merge(folder, "m-1", out="x1")
    assert missing.returncode == 2 and "missing: shard 2/2" in missing.stderr, missing
    doubled = merge(folder, "m-1", "m-1", "m-2", out="x2")
    assert doubled.returncode == 2 and "shard 1/2 given twice" in doubled.stderr, doubled
    # A shard that split by other durations overlaps the other.
    files = sorted(os.path.join(scenarios, f) for f in os.listdir(scenarios))
    path = os.path.join(folder, "other.json")
    with open(path, "w") as f:
        json.dump({files[0]: 50.0, **{f: 1.0 for f in files[1:]}}, f)
    run_shard(folder, scenarios, "2/2", "m-2b", "--durations", path)
    overlap = merge(folder, "m-1", "m-2b", out="x3")
    assert overlap.returncode == 2 and ("ran in shard 1/2" in overlap.stderr or "no shard ran" in overlap.stderr), overlap
    plain = os.path.join(folder, "plain")
    os.makedirs(plain)
    nomanifest = merge(folder, "m-1", "plain", out="x4")
    assert nomanifest.returncode == 2 and "plain: no shard manifest" in nomanifest.stderr


def test_bad_shard_arguments_are_refused(suite):
    folder, scenarios = suite
    for bad in ("0/2", "3/2", "a/b", "2"):
        result = subprocess.run([FLATLINE, "run", "--shard", bad, scenarios], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and "--shard must be INDEX/COUNT" in result.stderr, (bad, result)
