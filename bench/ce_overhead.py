"""Proof overhead of softmax cross-entropy over MSE (issue 13, item 3): the same W-digits run proven both ways.

    python bench/ce_overhead.py                 # W-digits 64-256-256-10, B = 64, T = 16, zero-knowledge, cpu
    python bench/ce_overhead.py --steps 4       # shorter

Both runs share everything but the loss (data, initial model, schedule, learning rate); MSE is the baseline
measured in the same process just before CE. Reported: prove seconds (the phases of training.prove), verify
seconds, proof bytes, and the CE/MSE ratios (target: prove ratio ≤ 1.3). Results: bench/results/ce_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from zkdl import api


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr-shift", type=int, default=8)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "ce_overhead.json"))
    a = ap.parse_args(argv)
    api.use_backend("cpu")
    rows = {}
    for loss in ("mse", "ce"):
        b = api.prove_training(
            widths=[64, 256, 256, 10],
            data="digits",
            steps=a.steps,
            batch_size=a.batch,
            lr_shift=a.lr_shift,
            loss=loss,
            check_resources=False,
        )
        s = b.summary
        rows[loss] = {
            "prove_s": s["prove_seconds"],
            "prove_phases_s": s["prove_phases"],
            "verify_s": s["verify_seconds"],
            "proof_bytes": s["proof_bytes"],
            "quantized_accuracy_final": s.get("quantized_accuracy_final"),
            "load_after": list(os.getloadavg()),
        }
        print(loss, json.dumps(rows[loss]), flush=True)
    out = {
        "bench": "ce_overhead",
        "command": " ".join(["python", "bench/ce_overhead.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "workload": {"widths": [64, 256, 256, 10], "batch": a.batch, "steps": a.steps, "zero_knowledge": True},
        "target": "CE prove time ≤ 1.3 × MSE prove time",
        "ce_over_mse_prove": round(rows["ce"]["prove_s"] / rows["mse"]["prove_s"], 3),
        "ce_over_mse_verify": round(rows["ce"]["verify_s"] / rows["mse"]["verify_s"], 3),
        "ce_over_mse_bytes": round(rows["ce"]["proof_bytes"] / rows["mse"]["proof_bytes"], 3),
        "results": rows,
    }
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ("ce_over_mse_prove", "ce_over_mse_verify", "ce_over_mse_bytes")}))


if __name__ == "__main__":
    main()
