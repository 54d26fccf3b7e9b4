"""The training prover's openings phase alone (issue 15), a baseline checkout against this tree in one run.

The openings phase of ``training.prove`` reduces the claims on each committed tensor to one point
(``prove_reduction_keeping_fold``: the weights ``Σ α_i·eq(p_i, ·)`` and a degree-2 sumcheck) and opens it in
zero knowledge (``prove_eval_zk``: the proof of dot product with its inner-product argument). This script

1. captures that phase's inputs once from a real W-digits prove (T = 16, ZK, lookup range checks; the workload of
   ``bench/training.py``): per committed tensor its padded field table, its claims' points and the commitment's
   row count (a pickle, ``--capture``, ~0.4 GB, made with this tree when missing);
2. runs the phase on those inputs in child processes, alternating the ``--baseline`` checkout and this tree
   (``--rounds`` times each, ``--reps`` passes per child after an untimed warm-up pass), each pass timing the
   reductions and the openings of the 17 tensors;
3. times this tree's inner-product rounds at 2^13 and 2^12 columns with and without the fold helper, paired
   (``--ipa-pairs``);
4. writes min / median wall seconds per version and the ratios to ``bench/results/openings.json`` (``--out``),
   with this process's CPU seconds (all its threads) per part: the work done on the prover's own process, steadier
   than wall seconds on a shared machine; and the fold helper's CPU seconds (averaged over the child's passes,
   warm-up included: an approximation).

What is not the real prove's: the reduction's sumcheck runs on the clear channel (the ZK channel's round
commitments are the same work in both versions), claim values are 0 and the row commitments are placeholders (the
prover only absorbs them; neither changes its work). The first timed pass of a child includes the start of the
inner-product fold helper (``zkdl.commit.ipa_fold``) where the tree has one; passes are reported separately.

    python bench/openings.py --baseline /path/to/baseline/checkout --rounds 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CAPTURE = Path("/tmp") / f"zkdl-bench-openings-{os.getuid()}.pkl"


def capture(path: Path) -> None:
    """Prove W-digits once and save the openings phase's inputs (run in a child with this tree)."""
    spec = importlib.util.spec_from_file_location("bench_training", ROOT / "bench" / "training.py")
    assert spec is not None and spec.loader is not None
    tb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tb)
    from zkdl.protocol import training

    items = []
    real = training.prove_reduction_keeping_fold

    def hook(table, claims, ch, keep_after):
        items.append(
            dict(
                name=claims[0].tensor,
                table=table.backend.to_host(table.limbs).copy(),
                points=[tuple(c.point) for c in claims],
                keep_after=keep_after,
            )
        )
        return real(table, claims, ch, keep_after)

    training.prove_reduction_keeping_fold = hook
    cfg, pp, st, run, X, Y, opens = tb.digits_instance(16)
    training.prove(pp, st, run, X, Y, opens, zk=True)
    with open(path, "wb") as f:
        pickle.dump({"workload": cfg, "items": items}, f, protocol=5)


def _pass(pp, items, seed: int) -> dict:
    """Reduce and open every captured tensor once; wall seconds per part."""
    import numpy as np
    from py_arkworks_bls12381 import G1Point

    from zkdl.commit import evaluation as ev
    from zkdl.commit.pedersen import Commitment, Layout, Opening
    from zkdl.field import Fr
    from zkdl.piop.claims import Claim, prove_reduction_keeping_fold
    from zkdl.protocol.channel import ProverChannel
    from zkdl.transcript import Transcript

    rng = np.random.default_rng(seed)
    red = opn = red_cpu = opn_cpu = 0.0
    for it in items:
        table = Fr(it["table"])
        n = len(table).bit_length() - 1
        claims = [Claim(it["name"], p, 0) for p in it["points"]]
        ch = ProverChannel(Transcript("bench/openings"))
        c0, t0 = time.process_time(), time.perf_counter()
        claim, folded = prove_reduction_keeping_fold(table, claims, ch, it["keep_after"])
        c1, t1 = time.process_time(), time.perf_counter()
        lay = Layout(len(table), it["keep_after"], n - it["keep_after"])
        com = Commitment(lay, tuple([G1Point()] * lay.rows))  # placeholders: the prover only absorbs them
        op = Opening(lay, tuple(range(1, lay.rows + 1)))
        ev.prove_eval_zk(pp, com, op, table, list(claim.point), ch.transcript, rng=rng, folded_rows=folded)
        c2, t2 = time.process_time(), time.perf_counter()
        red, red_cpu = red + t1 - t0, red_cpu + c1 - c0
        opn, opn_cpu = opn + t2 - t1, opn_cpu + c2 - c1
    return {
        "reductions_s": round(red, 4),
        "openings_zk_s": round(opn, 4),
        "total_s": round(red + opn, 4),
        "reductions_cpu_s": round(red_cpu, 4),
        "openings_zk_cpu_s": round(opn_cpu, 4),
    }


def child(path: Path, reps: int) -> None:
    from zkdl.api import public_params

    with open(path, "rb") as f:
        items = pickle.load(f)["items"]
    pp = public_params(max(1 << (len(it["table"]).bit_length() - 1 - it["keep_after"]) for it in items))
    _pass(pp, items[2:], 0)  # warm-up: numba kernels (compiled or loaded from cache), generators loaded
    passes = [_pass(pp, items, k + 1) for k in range(reps)]
    try:  # this tree's fold helper: stop it, so that its CPU seconds are counted (RUSAGE_CHILDREN)
        from zkdl.commit import ipa_fold

        if ipa_fold._HELPER is not None:
            ipa_fold._HELPER.close()
    except ImportError:  # a baseline without one
        pass
    helper_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    for p in passes:  # the helper's CPU seconds over the whole child (warm-up and every pass), per pass
        p["fold_helper_cpu_s_per_pass"] = round((helper_cpu.ru_utime + helper_cpu.ru_stime) / (reps + 1), 4)
    print(json.dumps(passes))


def ipa_pairs(pairs: int) -> dict:
    """This tree only: the inner-product rounds of the two largest openings (2^13 and 2^12 columns) with the fold
    helper and without it, back to back ``pairs`` times (paired, so that the machine's load drifts less between
    the two)."""
    import numpy as np

    from zkdl.api import public_params
    from zkdl.commit import evaluation as ev
    from zkdl.commit import ipa_fold
    from zkdl.field import Fr
    from zkdl.transcript import Transcript

    pp = public_params(1 << 13)
    out: dict = {}
    real = ev.fold_helper
    for log_n in (13, 12):
        rng = np.random.default_rng(log_n)
        z, a = Fr.random(1 << log_n, rng), Fr.random(1 << log_n, rng)
        ipa_fold.prestart()
        ev.inner_product_rounds(pp, Transcript("bench/ipa"), z, a, 5)  # warm: the helper holds the generators
        helped, alone = [], []
        for _ in range(pairs):
            for label, times in (("helped", helped), ("alone", alone)):
                ev.fold_helper = real if label == "helped" else (lambda n: None)  # type: ignore[assignment]
                t0 = time.perf_counter()
                ev.inner_product_rounds(pp, Transcript("bench/ipa"), z, a, 5)
                times.append(round(time.perf_counter() - t0, 4))
        ev.fold_helper = real
        out[f"2^{log_n}"] = {
            "helped_s": helped,
            "alone_s": alone,
            "median_alone_over_helped": round(statistics.median(alone) / statistics.median(helped), 3),
            "min_alone_over_helped": round(min(alone) / min(helped), 3),
        }
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return out


def _run_child(tree: Path, path: Path, reps: int) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(path), "--reps", str(reps)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"child in {tree} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _commit(tree: Path) -> str:
    r = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def _summary(passes: list[dict]) -> dict:
    out = {}
    keys = ("reductions_s", "openings_zk_s", "total_s", "reductions_cpu_s", "openings_zk_cpu_s")
    for key in (*keys, "fold_helper_cpu_s_per_pass"):
        vals = [p[key] for p in passes]
        out[key] = {"min": min(vals), "median": round(statistics.median(vals), 4)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, help="a checkout of the baseline commit")
    ap.add_argument("--rounds", type=int, default=3, help="children per version, alternating")
    ap.add_argument("--reps", type=int, default=2, help="timed passes per child")
    ap.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE, help="the captured inputs (made when missing)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "openings.json")
    ap.add_argument("--ipa-pairs", type=int, default=6, help="paired IPA runs with/without the fold helper (0: none)")
    ap.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--make-capture", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        child(args.child, args.reps)
        return 0
    if args.make_capture is not None:
        capture(args.make_capture)
        return 0
    if args.baseline is None:
        ap.error("--baseline is required")
    if not args.capture.exists():
        print(f"capturing the openings inputs into {args.capture} (one W-digits prove)", flush=True)
        subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--make-capture", str(args.capture)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=True,
        )
    trees = {"baseline": args.baseline.resolve(), "this": ROOT}
    runs: dict[str, list[list[dict]]] = {k: [] for k in trees}
    loads = [list(os.getloadavg())]
    for r in range(args.rounds):
        for name, tree in trees.items():
            runs[name].append(_run_child(tree, args.capture, args.reps))
            print(f"round {r + 1} {name}: {runs[name][-1]}", flush=True)
        loads.append([round(x, 2) for x in os.getloadavg()])
    ipa = ipa_pairs(args.ipa_pairs) if args.ipa_pairs > 0 else None
    summary = {k: _summary([p for child_passes in v for p in child_passes]) for k, v in runs.items()}
    ratios = {
        f"baseline_over_this_{stat}_{key}": round(summary["baseline"][key][stat] / summary["this"][key][stat], 3)
        for key in ("reductions_s", "openings_zk_s", "total_s", "reductions_cpu_s", "openings_zk_cpu_s")
        for stat in ("min", "median")
    }
    doc = {
        "bench": "openings",
        "workload": "W-digits (64-256-256-10, B = 64, T = 16, ZK, lookup range checks): the 17 committed tensors",
        "commits": {k: _commit(t) for k, t in trees.items()},
        "cpus": os.cpu_count(),
        "load_avg_per_round": loads,
        "rounds": args.rounds,
        "reps_per_child": args.reps,
        "passes": runs,
        "summary_wall_s": summary,
        "ratios": ratios,
        "ipa_helper_pairs_this_tree": ipa,
        "note": "wall seconds (and the prover process's CPU seconds, *_cpu_s); alternating children; the "
        "machine's load varies, compare mins",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({"summary_wall_s": summary, "ratios": ratios, "ipa_helper_pairs": ipa}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
