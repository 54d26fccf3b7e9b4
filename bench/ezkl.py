"""ezkl on the same model, on the same machine, in the same run as zkdl's W-digits training proof (optional).

ezkl (https://github.com/zkonduit/ezkl, Halo2 + KZG) proves ONE inference of the 64-256-256-10 ReLU MLP of
W-digits (the same initial weights: ``init_model(widths, seed=1)``; one digits sample as input). zkdl proves T
training steps of 64 samples each (forward, backward, update). This script runs ezkl's Python bindings in a child
process (its peak memory is its own): settings (input and parameters private, output public), calibration,
circuit compilation, a locally generated SRS (``gen_srs``: for benchmarking only, no download), witness, setup,
then times ``prove`` and ``verify``. Then, unless ``--no-zkdl``, it runs ``bench/training.py --only digits
--ranges lookup`` right after and writes both, with the ratios, to ``bench/results/ezkl.json``.

ezkl is never a zkdl dependency. Without it this script prints a message and exits 0. To run it::

    pip install ezkl==23.0.5 onnx
    python bench/ezkl.py
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# this file is named ezkl.py: never let it shadow the ezkl package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

WIDTHS = [64, 256, 256, 10]


def _call(fn, *args, **kw):
    """ezkl functions are sync or async depending on the version."""
    out = fn(*args, **kw)
    return asyncio.run(out) if inspect.isawaitable(out) else out


def run_ezkl(workdir: Path) -> dict:
    import ezkl
    import numpy as np
    import torch

    from zkdl.quant import init_model
    from zkdl.quant.data import load_dataset

    fm = init_model(WIDTHS, seed=1)
    layers: list[torch.nn.Module] = []
    for i, (w, b) in enumerate(zip(fm.weights, fm.biases)):
        w = np.asarray(w, dtype=np.float32)
        lin = torch.nn.Linear(WIDTHS[i], WIDTHS[i + 1], bias=b is not None)
        with torch.no_grad():  # zkdl: a @ W with W of shape (d_in, d_out); torch: W of shape (d_out, d_in)
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            if b is not None:
                lin.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float32).reshape(-1)))
        layers.append(lin)
        if i < len(fm.weights) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).eval()
    x = load_dataset("digits", seed=0).X_train[:1].astype(np.float32)
    onnx_path = workdir / "model.onnx"
    torch.onnx.export(
        model,
        (torch.from_numpy(x),),
        str(onnx_path),
        input_names=["input"],
        output_names=["output"],
        dynamo=False,
    )
    data = workdir / "input.json"
    data.write_text(json.dumps({"input_data": [x.reshape(-1).tolist()]}))
    settings, compiled = workdir / "settings.json", workdir / "model.compiled"
    srs, vk, pk = workdir / "kzg.srs", workdir / "vk.key", workdir / "pk.key"
    witness, proof = workdir / "witness.json", workdir / "proof.json"
    args = ezkl.PyRunArgs()
    args.input_visibility = "private"
    args.param_visibility = "private"
    args.output_visibility = "public"
    t: dict[str, float] = {}

    def lap(name, fn, *a, **kw):
        t0 = time.perf_counter()
        out = _call(fn, *a, **kw)
        t[name] = round(time.perf_counter() - t0, 3)
        return out

    lap("gen_settings_s", ezkl.gen_settings, str(onnx_path), str(settings), py_run_args=args)
    lap("calibrate_s", ezkl.calibrate_settings, str(data), str(onnx_path), str(settings), "resources")
    lap("compile_s", ezkl.compile_circuit, str(onnx_path), str(compiled), str(settings))
    logrows = json.loads(settings.read_text())["run_args"]["logrows"]
    lap("gen_srs_s", ezkl.gen_srs, str(srs), logrows)
    lap("witness_s", ezkl.gen_witness, str(data), str(compiled), str(witness))
    lap("setup_s", ezkl.setup, str(compiled), str(vk), str(pk), str(srs))
    lap("prove_s", ezkl.prove, str(witness), str(compiled), str(pk), str(proof), str(srs))
    ok = lap("verify_s", ezkl.verify, str(proof), str(settings), str(vk), str(srs))
    pj = json.loads(proof.read_text())
    raw = pj.get("proof")
    n_bytes = len(bytes.fromhex(raw[2:] if raw.startswith("0x") else raw)) if isinstance(raw, str) else len(raw)
    return {
        "ezkl_version": getattr(ezkl, "__version__", "?"),
        "model": WIDTHS,
        "visibility": {"input": "private", "params": "private", "output": "public"},
        "logrows": logrows,
        "verified": bool(ok),
        **t,
        "proof_bytes": n_bytes,
        "proof_file_bytes": proof.stat().st_size,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-zkdl", action="store_true", help="ezkl only (no zkdl run after it)")
    ap.add_argument("--digits-steps", type=int, default=16)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ezkl.json"))
    ap.add_argument(
        "--zkdl-result", default=None, help="pair with this bench/training.py JSON (a run made alongside) instead"
    )
    ap.add_argument("--ezkl-result", default=None, help="use the ezkl part of this earlier bench/ezkl.py JSON")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        print("RESULT " + json.dumps(run_ezkl(Path(args.child))), flush=True)
        return 0
    try:
        import ezkl  # noqa: F401
    except ImportError:
        print("ezkl is not installed: skipped (pip install ezkl==23.0.5 onnx to run this comparison)")
        return 0
    doc: dict = {"bench": "ezkl", "machine": {"cpus": os.cpu_count(), "load_before": list(os.getloadavg())}}
    doc["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if args.ezkl_result:
        prev = json.loads(Path(args.ezkl_result).read_text())
        doc["ezkl"], doc["ezkl_from"] = prev["ezkl"], {"file": args.ezkl_result, "when": prev.get("when")}
    else:
        with tempfile.TemporaryDirectory() as d:
            proc = subprocess.run([sys.executable, __file__, "--child", d], capture_output=True, text=True)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            doc["ezkl_error"] = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            print("ezkl failed:", doc["ezkl_error"])
        else:
            doc["ezkl"] = json.loads(line[len("RESULT ") :])
            print("ezkl:", json.dumps(doc["ezkl"]))
    if args.zkdl_result:
        rows = [r for r in json.loads(Path(args.zkdl_result).read_text())["results"] if "prove_s" in r]
        doc["zkdl"], doc["zkdl_from"] = (rows[0] if rows else None), args.zkdl_result
    elif not args.no_zkdl:
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "training.json"
            cmd = [sys.executable, str(ROOT / "bench" / "training.py"), "--only", "digits", "--ranges", "lookup"]
            cmd += ["--digits-steps", str(args.digits_steps), "--out", str(out)]
            subprocess.run(cmd, check=False)
            if out.exists():
                rows = [r for r in json.loads(out.read_text())["results"] if "prove_s" in r]
                doc["zkdl"] = rows[0] if rows else None
    z, e = doc.get("zkdl"), doc.get("ezkl")
    if z and e:
        doc["ratios"] = {
            "zkdl prove per training step / ezkl prove per inference": round(z["prove_s_per_step"] / e["prove_s"], 3),
            "zkdl verify / ezkl verify": round(z["verify_s"] / max(e["verify_s"], 1e-9), 2),
            "zkdl proof / ezkl proof": round(z["proof_bytes"] / e["proof_bytes"], 1),
            "zkdl peak RSS / ezkl peak RSS": round(z["peak_rss_gb"] / max(e["peak_rss_gb"], 1e-9), 2),
        }
    doc["machine"]["load_after"] = list(os.getloadavg())
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
