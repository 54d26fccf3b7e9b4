"""Evaluation and inference proofs with the committed final weights of a training run (issue 13 targets).

    python bench/evaluation.py            # W-digits 64-256-256-10: held-out set (360 rows), 64 inferences
    python bench/evaluation.py --quick    # 64-32-10
    python bench/evaluation.py --cases heldout,committed   # public vs committed held-out set only

Cases: ``heldout`` (the held-out set as public data), ``committed`` (the same rows committed at evaluation time,
never revealed: ``test_data`` "committed"; the commitment of the rows is timed apart from the proof),
``inference`` (``--infer-rows`` public inputs) and ``inference_one_row``. A subset of the cases writes
``evaluation_<cases>.json``.

The training run here is trained (T quantized SGD steps) and its statement committed, but its training proof is
not made: the evaluation proof needs only the statement's final weight commitments and their openings, and the
cost measured is the evaluation's. Each proof is made and verified ``--reps`` times; wall and CPU seconds of the
best repetition are reported (CPU seconds are robust to a machine shared with other work). The integer forward
pass of the same rows is measured in the same run as the baseline (the cost of computing, not proving, them).
``--ezkl`` adds ezkl (installed in the venv) proving ONE inference of the same float model in the same run, the
issue's comparison (64 proven inferences against ezkl's one). Results go to bench/results/evaluation[_quick].json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from zkdl import api
from zkdl.protocol import evaluation, training
from zkdl.protocol.eval_witness import EvalPublic, commit_test_data
from zkdl.protocol.evaluation_statement import EvalStatement, array_sha256
from zkdl.protocol.statement import Statement
from zkdl.quant import BatchSchedule, FixedPointParams, init_model, predict_int, quantize_model, train_quantized
from zkdl.quant.data import load_dataset, quantize_inputs, quantize_targets


def _timed(fn, reps):
    best = None
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if best is None or wall < best[0]:
            best = (wall, cpu, out)
    assert best is not None
    return best


def ezkl_one_inference(run, fp, x: np.ndarray, workdir: Path) -> dict:
    """ezkl (if installed) proving ONE inference of the same model: the final weights dequantized, exported to ONNX
    (torch's exporter), settings calibrated for resources, an SRS generated locally (``gen_srs``, ezkl's dummy SRS:
    same cost to prove with as a downloaded one), keys set up. Setup is reported apart; prove and verify are the
    comparison."""
    import asyncio
    import inspect

    import ezkl
    import torch

    from zkdl.quant.model import dequantize_model, to_torch

    def run_(r):
        return asyncio.run(r) if inspect.iscoroutine(r) else r

    workdir.mkdir(parents=True, exist_ok=True)
    f = {k: str(workdir / k) for k in ("m.onnx", "input.json", "settings.json", "m.compiled", "vk", "pk", "w.json")}
    net = to_torch(dequantize_model(run.final, fp), dtype=torch.float32).eval()
    xt = torch.tensor(x.reshape(1, -1), dtype=torch.float32)
    torch.onnx.export(net, xt, f["m.onnx"], input_names=["input"], output_names=["output"], dynamo=False)
    (workdir / "input.json").write_text(json.dumps({"input_data": [xt.reshape(-1).tolist()]}))
    t0 = time.perf_counter()
    run_(ezkl.gen_settings(f["m.onnx"], f["settings.json"]))
    run_(ezkl.calibrate_settings(f["input.json"], f["m.onnx"], f["settings.json"], "resources"))
    run_(ezkl.compile_circuit(f["m.onnx"], f["m.compiled"], f["settings.json"]))
    logrows = json.loads(Path(f["settings.json"]).read_text())["run_args"]["logrows"]
    srs = workdir / f"kzg{logrows}.srs"
    if not srs.exists():
        run_(ezkl.gen_srs(str(srs), logrows))
    run_(ezkl.setup(f["m.compiled"], f["vk"], f["pk"], str(srs)))
    run_(ezkl.gen_witness(f["input.json"], f["m.compiled"], f["w.json"]))
    setup_s = time.perf_counter() - t0
    pw, pc, _ = _timed(
        lambda: run_(ezkl.prove(f["w.json"], f["m.compiled"], f["pk"], str(workdir / "p.json"), str(srs))), 1
    )
    vw, vc, ok = _timed(lambda: run_(ezkl.verify(str(workdir / "p.json"), f["settings.json"], f["vk"], str(srs))), 1)
    assert ok is True
    return {
        "ezkl_version": getattr(ezkl, "__version__", "?"),
        "logrows": logrows,
        "setup_seconds": round(setup_s, 3),
        "prove_seconds": round(pw, 3),
        "prove_cpu_seconds": round(pc, 3),
        "verify_seconds": round(vw, 3),
        "verify_cpu_seconds": round(vc, 3),
        "proof_bytes": len(json.loads((workdir / "p.json").read_text()).get("proof", [])),
    }


CASES = ("heldout", "committed", "inference", "inference_one_row")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--infer-rows", type=int, default=64)
    ap.add_argument("--ezkl", action="store_true", help="also prove ONE inference of the same model with ezkl")
    ap.add_argument("--ezkl-dir", default="/tmp/zkdl-bench-ezkl", help="ezkl's files (its SRS is reused)")
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    a = ap.parse_args()
    cases = [c for c in a.cases.split(",") if c]
    if not cases or set(cases) - set(CASES):
        ap.error(f"--cases: choose from {','.join(CASES)}")
    widths = [64, 32, 10] if a.quick else [64, 256, 256, 10]
    fp = FixedPointParams()
    ds = load_dataset("digits", seed=0)
    X = quantize_inputs(ds.X_train, fp)
    Y = quantize_targets(ds.Y_train, fp)
    run = train_quantized(
        quantize_model(init_model(widths, seed=0), fp), X, Y, fp, BatchSchedule(X.shape[0], 64, None), a.steps
    )
    st0 = Statement(
        widths=widths,
        has_bias=[True] * (len(widths) - 1),
        params=fp.to_dict(),
        batch_size=64,
        steps=a.steps,
        n_rows=X.shape[0],
        schedule_seed=None,
        range_backend="lookup",
        generators_digest="",
    )
    pp = api.public_params(training.generators_needed(st0))
    st0 = dataclasses.replace(st0, generators_digest=pp.digest.hex())
    w = training.Witness(training.Public.of(st0), run, X, Y)
    coms, opens = training.commit_statement_tensors(pp, w)
    st = dataclasses.replace(st0, commitments=coms)
    wopen = {k: v for k, v in opens.items() if k.startswith(("WT.", "bT."))}
    Xt, labels = quantize_inputs(ds.X_test, fp), ds.labels_test
    assert labels is not None
    results: dict = {
        "widths": widths,
        "steps": a.steps,
        "machine": platform.node(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],  # the machine is shared: wall vs CPU
    }

    def measure(kind: str, Xq: np.ndarray, *, committed: bool = False) -> dict:
        O = predict_int(run.final, Xq, fp)
        common = dict(
            training_statement=st.digest().hex(),
            n_rows=int(Xq.shape[0]),
            inputs_sha256=None if committed else array_sha256(Xq),
            range_backend=st.range_backend,
            generators_digest=st.generators_digest,
        )
        data = data_openings = None
        commit_wall = None
        if kind == "evaluation":
            correct = int((np.argmax(O, axis=1) == labels).sum())
            if committed:
                t0 = time.perf_counter()
                coms, opened = commit_test_data(pp, st.widths, Xq, labels)
                commit_wall = time.perf_counter() - t0
                est = EvalStatement(
                    kind=kind,
                    correct=correct,
                    test_data="committed",
                    inputs_commitment=coms["X"].to_bytes().hex(),
                    labels_commitment=coms["Y"].to_bytes().hex(),
                    **common,  # type: ignore[arg-type]
                )
                pub = EvalPublic.of(st, est)
                data = {"X": Xq, "labels": labels}
                data_openings = {"TX": opened["X"], "TY": opened["Y"]}
            else:
                est = EvalStatement(kind=kind, labels_sha256=array_sha256(labels), correct=correct, **common)  # type: ignore[arg-type]
                pub = EvalPublic.of(st, est, Xq, labels=labels)
        else:
            est = EvalStatement(kind=kind, outputs_sha256=array_sha256(O), **common)  # type: ignore[arg-type]
            pub = EvalPublic.of(st, est, Xq, outputs=O)
        base_wall, base_cpu, _ = _timed(lambda: predict_int(run.final, Xq, fp), a.reps)
        pw, pc, (proof, _) = _timed(
            lambda: evaluation.prove(
                pp, pub, run.final.weights, run.final.biases, wopen, data=data, data_openings=data_openings
            ),
            a.reps,
        )
        vw, vc, _ = _timed(lambda: evaluation.verify(pp, pub, proof), a.reps)
        out = {
            "rows": int(Xq.shape[0]),
            "prove_seconds": round(pw, 3),
            "prove_cpu_seconds": round(pc, 3),
            "verify_seconds": round(vw, 3),
            "verify_cpu_seconds": round(vc, 3),
            "proof_bytes": len(proof),
            "baseline_forward_seconds": round(base_wall, 5),
            "prove_over_forward": round(pw / max(base_wall, 1e-9), 1),
        }
        if kind == "evaluation":
            out["accuracy"] = est.accuracy
            out["test_data"] = est.test_data
        if commit_wall is not None:
            out["commit_test_data_seconds"] = round(commit_wall, 3)
        print(kind, json.dumps(out))
        return out

    if "heldout" in cases:
        results["evaluation_heldout"] = measure("evaluation", Xt)
    if "committed" in cases:
        results["evaluation_heldout_committed"] = measure("evaluation", Xt, committed=True)
        if "heldout" in cases:
            pub_, com_ = results["evaluation_heldout"], results["evaluation_heldout_committed"]
            results["committed_over_public"] = {
                k: round(com_[k] / pub_[k], 3)
                for k in ("prove_seconds", "prove_cpu_seconds", "verify_seconds", "verify_cpu_seconds", "proof_bytes")
            }
    if "inference" in cases:
        results["inference"] = measure("inference", Xt[: a.infer_rows])
    if "inference_one_row" in cases:
        results["inference_one_row"] = measure("inference", Xt[:1])
    if a.ezkl and "inference" in cases:
        results["ezkl_one_inference"] = ez = ezkl_one_inference(run, fp, ds.X_test[0], Path(a.ezkl_dir))
        print("ezkl", json.dumps(ez))
        zi = results["inference"]
        results["inference_vs_ezkl"] = {
            "zkdl_rows": zi["rows"],
            "prove_wall_ratio_zkdl_batch_over_ezkl_one": round(zi["prove_seconds"] / ez["prove_seconds"], 3),
            "prove_cpu_ratio_zkdl_batch_over_ezkl_one": round(zi["prove_cpu_seconds"] / ez["prove_cpu_seconds"], 3),
        }
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    name = "evaluation" + ("_quick" if a.quick else "") + ("" if set(cases) == set(CASES) else "_" + "-".join(cases))
    out = Path(__file__).parent / "results" / (name + ".json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("written to", out)


if __name__ == "__main__":
    main()
