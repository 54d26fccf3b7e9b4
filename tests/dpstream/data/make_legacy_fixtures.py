"""Writes the dpstream 0.1.0 fixtures of test_state_envelope.py with the code from before the state envelope.

    git archive ed411e3 dpstream | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old python tests/dpstream/data/make_legacy_fixtures.py tests/dpstream/data

It writes two SQLite stores of version 1 (a keyed counter, an unkeyed MaxSum tree), sealed states of version 1
(a block counter, a BLT counter, an SVT, a SumSelect tree) and two DP-FTRL noise plans as a torch checkpoint
holds them, each with the answers the old code gave when it continued them.
"""

import json
import os
import shutil
import sys
import tempfile

import numpy as np

from dpstream import counters, problems
from dpstream.training import DPFTRLNoise

out = sys.argv[1]
KEY = bytes(range(32))
tmp = tempfile.mkdtemp()


def plain(v):
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


exp = {"key": KEY.hex()}
# 1. a keyed counter store
p = os.path.join(out, "legacy_store_counter_v1.db")
with counters.open(p, "binary-tree", horizon=64, privacy=counters.zCDP(0.5), seed=7, key=KEY) as c:
    exp["counter_store_answers"] = c.update_many([1, 0, 1, 1, 0, 1, 0, 1, 1, 0]).tolist()
q = os.path.join(tmp, "c.db")
shutil.copy(p, q)
with counters.open(q, key=KEY) as c:
    exp["counter_store_next"] = c.update_many([1, 1, 0, 0, 1]).tolist()
# 2. an unkeyed problem store
p = os.path.join(out, "legacy_store_problem_v1.db")
recs = [[1, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 1]]
with problems.open(p, "maxsum", "tree", horizon=32, dim=3, rho=0.5, seed=3) as m:
    exp["problem_store_answers"] = m.update_many(recs).tolist()
q = os.path.join(tmp, "p.db")
shutil.copy(p, q)
with problems.open(q) as m:
    exp["problem_store_next"] = m.update_many(recs).tolist()
# 3. sealed states: a block counter (nested legacy states), an SVT, a tree problem
bc = counters.make("binary-tree", horizon=32, privacy=counters.zCDP(0.5), seed=5, release_every=2)
bc.update_many([1, 0, 1, 1, 1])
exp["sealed_block_counter"] = bc.save_state(KEY)
exp["sealed_block_counter_next"] = bc.update_many([0, 1, 1, 0, 1]).tolist()
svt = problems.MaxSumSVT(horizon=64, dim=2, rho=0.5, seed=11)
svt.update_many([[1, 1], [1, 0], [0, 1]] * 3)
exp["sealed_svt"] = svt.save_state(KEY)
exp["sealed_svt_next"] = svt.update_many([[1, 1]] * 6).tolist()
tree = problems.SumSelectTree(horizon=16, dim=2, epsilon=1.0, seed=2)
tree.update_many([[1, 0], [1, 1]])
exp["sealed_sumselect_tree"] = tree.save_state(KEY)
exp["sealed_sumselect_tree_next"] = tree.update_many([[0, 1]] * 4).tolist()
blt = counters.make("blt", horizon=40, privacy=counters.zCDP(1.0), seed=9)
blt.update_many([0.5, 0.25, 1.0])
exp["sealed_blt"] = blt.save_state(KEY)
exp["sealed_blt_next"] = blt.update_many([0.75, 0.0]).tolist()
# 4. a DP-FTRL noise plan as a torch checkpoint would hold it (the legacy plan and generator layouts)
for mech in ("blt", "tree"):
    plan = DPFTRLNoise(mech, 4, steps_per_epoch=4, epochs=2, clip_norm=1.0, noise_multiplier=2.0, seed=4)
    for _ in range(5):
        plan.noise()
    exp[f"dpftrl_{mech}_plan"] = plain(plan.state_dict())
    exp[f"dpftrl_{mech}_next"] = [plan.noise().tolist() for _ in range(2)]
with open(os.path.join(out, "legacy_states_v1.json"), "w") as f:
    f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(exp[k], sort_keys=True)}" for k in sorted(exp)) + "\n}\n")
print("ok")
