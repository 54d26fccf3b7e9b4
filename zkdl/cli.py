"""The ``zkdl`` command line: setup | prove | verify | inspect | demo.

Logs and progress go to stderr; machine-readable results go to stdout. Exit codes: 0 success (``verify``:
valid), 1 invalid proof, 2 unusable input or usage error. Errors are one-line messages, never tracebacks.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from .errors import ZkdlError

log = logging.getLogger("zkdl")

DEMO_WIDTHS = "64,32,10"
DEMO_OUT = "zkdl-demo"


def _widths(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"widths must be comma-separated integers, got {text!r}") from None
    if len(out) < 2 or any(w < 1 for w in out):
        raise argparse.ArgumentTypeError("widths need at least two positive sizes, e.g. 64,32,10")
    return out


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _progress(quiet: bool):
    start = time.perf_counter()

    def say(msg: str) -> None:
        if not quiet:
            print(f"[zkdl {time.perf_counter() - start:7.1f}s] {msg}", file=sys.stderr, flush=True)

    return say


def _add_training_args(p: argparse.ArgumentParser, *, steps: int, batch: int, widths: str | None) -> None:
    p.add_argument("--data", default="digits", help="bundled dataset (digits, iris, wine, breast_cancer) or an "
                   ".npz file with X and y (default: digits)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--widths", type=_widths, default=_widths(widths) if widths else None,
                   help="layer widths of a fresh MLP, e.g. 64,32,10 (first = features, last = outputs)")
    g.add_argument("--model", help="a torch.nn.Sequential of Linear and ReLU saved with torch.save")
    p.add_argument("--steps", type=_positive, default=steps, help=f"SGD steps to train and prove (default {steps})")
    p.add_argument("--batch", type=_positive, default=batch, help=f"batch size (default {batch})")
    p.add_argument("--frac-bits", type=int, default=16, help="fixed-point fractional bits F (default 16)")
    p.add_argument("--lr-shift", type=int, default=8, help="learning-rate shift s, η = B·2^-s (default 8)")
    p.add_argument("--range", dest="range_backend", choices=("lookup", "bits"), default="lookup",
                   help="range-check back-end (default lookup)")
    p.add_argument("--schedule-seed", type=int, default=None, help="public seed of the batch order")
    p.add_argument("--seed", type=int, default=0, help="initialisation and train/test split seed")
    p.add_argument("--no-bias", action="store_true", help="fresh model without biases")
    p.add_argument("--backend", choices=("auto", "cpu", "gpu"), default="cpu", help="compute backend")
    p.add_argument("--force", action="store_true", help="replace the outputs of an earlier run in --out")
    p.add_argument("--transparent", action="store_true",
                   help="debugging only: a proof that is NOT zero-knowledge (marked in the proof header)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _prove(args, *, compare_float: bool):
    from . import api
    from .field import set_default_backend

    set_default_backend(args.backend)
    if args.transparent:
        print("zkdl: WARNING: --transparent makes a proof that is NOT zero-knowledge: it reveals values of the "
              "private witness (data, weights, gradients). Use it for debugging only; `zkdl verify` refuses it "
              "unless given --allow-transparent.", file=sys.stderr, flush=True)
    return api.prove_training(
        widths=args.widths, model=args.model, data=args.data, steps=args.steps, batch_size=args.batch,
        frac_bits=args.frac_bits, lr_shift=args.lr_shift, range_backend=args.range_backend,
        schedule_seed=args.schedule_seed, bias=not args.no_bias, seed=args.seed, out_dir=args.out,
        verify_after=not getattr(args, "no_verify", False), progress=_progress(args.quiet),
        compare_float=compare_float, zero_knowledge=not args.transparent,
        overwrite=args.force or getattr(args, "replace_default", False),
    )


def cmd_setup(args) -> int:
    from .commit.generators import default_cache_path, setup

    say = _progress(args.quiet)
    path = Path(args.path) if args.path else default_cache_path()
    say(f"deriving {args.n} generators by hash-to-curve into {path}")
    pp = setup(args.n, path)
    print(json.dumps({"path": str(path), "generators": pp.capacity, "digest": pp.digest.hex()}))
    return 0


def cmd_prove(args) -> int:
    bundle = _prove(args, compare_float=False)
    print(json.dumps({"out": str(bundle.out_dir), **bundle.summary}))
    return 0


def cmd_verify(args) -> int:
    from . import api

    res = api.verify(args.proof, args.statement, params_path=args.params, allow_transparent=args.allow_transparent)
    if args.json:
        print(json.dumps(res.to_dict()))
    else:
        print(res.describe())
    return 0 if res.valid else 1


def cmd_inspect(args) -> int:
    from .errors import ProofFormatError
    from .serialize import describe

    try:
        data = Path(args.proof).read_bytes()
    except OSError as exc:
        raise ProofFormatError(f"cannot read proof {args.proof}: {exc.strerror}") from exc
    info = describe(data)
    names = {"HEAD": "statement digest", "COMM": "commitments", "SUMC": "sumcheck messages",
             "OPEN": "openings"}
    if args.json:
        print(json.dumps(info, default=str))
        return 0
    print(f"proof {args.proof}: {len(data)} bytes, format {info.get('format_version')}, "
          f"protocol {info.get('protocol_id')}")
    for sec in info.get("sections", []):
        tag, length = sec["tag"], sec["length"]
        print(f"  {tag}  {length:>10} bytes  {names.get(tag, '')}")
    return 0


def cmd_demo(args) -> int:
    if args.widths is None and args.model is None:
        args.widths = _widths(DEMO_WIDTHS)
    args.replace_default = args.out == DEMO_OUT  # rerunning the demo replaces its own default output
    bundle = _prove(args, compare_float=True)
    s = bundle.summary
    lines = [
        "zkdl demo: proof of quantized SGD training on " + args.data,
        f"  model                {s['widths']}, batch {s['batch_size']}, {s['steps']} steps",
        f"  held-out accuracy    float {s.get('float_accuracy_final', float('nan')):.4f}   "
        f"quantized {s.get('quantized_accuracy_final', float('nan')):.4f}   "
        f"(before training {s.get('quantized_accuracy_initial', float('nan')):.4f})",
        f"  prove                {s['prove_seconds']:.2f} s ({s['prove_seconds_per_step']:.2f} s/step)",
        f"  verify               {s['verify_seconds']:.2f} s  -> {'VALID' if s['verified'] else 'INVALID'}",
        f"  proof                {s['proof_bytes']} bytes; statement commitments "
        f"{s['statement_commitment_bytes']} bytes",
        f"  written to           {bundle.out_dir}",
    ]
    print("\n".join(lines), file=sys.stderr)
    print(json.dumps({"out": str(bundle.out_dir), **s}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="zkdl", description="Zero-knowledge proofs of neural-network training.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("setup", help="derive the public generators (hash-to-curve) and cache them")
    p.add_argument("--n", type=_positive, default=4096, help="number of generators (default 4096)")
    p.add_argument("--path", help="cache file (default: $ZKDL_HOME or ~/.cache/zkdl)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("prove", help="train T steps and write proof.zkdl, statement.json and private artifacts")
    _add_training_args(p, steps=4, batch=32, widths=None)
    p.add_argument("--out", default="zkdl-out", help="output directory (default zkdl-out)")
    p.add_argument("--no-verify", action="store_true", help="do not re-verify the proof before exiting")
    p.set_defaults(func=cmd_prove)

    p = sub.add_parser("verify", help="verify a proof against a statement (exit 0 valid, 1 invalid, 2 unusable)")
    p.add_argument("proof")
    p.add_argument("--statement", required=True, help="statement.json")
    p.add_argument("--params", help="generator cache (default: $ZKDL_HOME or ~/.cache/zkdl)")
    p.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    p.add_argument("--allow-transparent", action="store_true",
                   help="accept a transparent (not zero-knowledge, debugging) proof; refused by default")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("inspect", help="sizes of a proof by section")
    p.add_argument("proof")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("demo", help="digits end to end: train, prove, verify, summary")
    _add_training_args(p, steps=64, batch=64, widths=None)
    p.add_argument("--out", default=DEMO_OUT, help=f"output directory (default {DEMO_OUT}, replaced on rerun)")
    p.set_defaults(func=cmd_demo)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="[zkdl] %(message)s")
    try:
        return int(args.func(args))
    except ZkdlError as exc:
        print(f"zkdl: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"zkdl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zkdl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
