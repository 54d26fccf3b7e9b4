"""The ``zkdl`` command line: setup | prove | verify | evaluate | infer | inspect | demo.

Logs and progress go to stderr; results go to stdout (text, or JSON with ``--json``). Exit codes: 0 success
(``verify``: valid), 1 invalid proof, 2 unusable input or usage error, 130 interrupted. Errors are one-line
messages on stderr, never tracebacks; with ``--json`` they are also ``{"ok": false, "error_type": ..., "message":
...}`` on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from . import __version__
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


def _chunk_steps(text: str) -> int | str:
    return "auto" if text == "auto" else _positive(text)


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < v < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def _json_error(kind: str, message: str) -> None:
    print(json.dumps({"ok": False, "error_type": kind, "message": message}))


class _Parser(argparse.ArgumentParser):
    """argparse's usage errors (exit 2), as JSON on stdout too when ``--json`` is on the command line."""

    json_requested = False

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        if _Parser.json_requested:
            _json_error("UsageError", message)
        raise SystemExit(2)


def _common(p: argparse.ArgumentParser) -> None:
    """Options every command takes."""
    p.add_argument("--json", action="store_true", help="machine-readable output (and errors) on stdout")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log lines on stderr (-vv: debug)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), help="log level (overrides -v)")
    p.add_argument("--quiet", action="store_true", help="no progress or log lines on stderr (errors still shown)")


def _display(args):
    from .progress import ProgressDisplay

    bar = not args.quiet and (args.progress or sys.stderr.isatty())
    return ProgressDisplay(bar=bar)


def _add_training_args(p: argparse.ArgumentParser, *, steps: int, batch: int) -> None:
    _common(p)
    p.add_argument(
        "--data",
        default="digits",
        help="bundled dataset (digits, iris, wine, breast_cancer), an .npz "
        "file with arrays X and y, or an .npy/.csv table with --target (default: digits)",
    )
    p.add_argument("--target", help="label column of an .npy/.csv table (a header name or a 0-based index)")
    p.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="classification (1-D class labels) or regression; auto infers it when unambiguous",
    )
    p.add_argument(
        "--standardize",
        action="store_true",
        help="standardize features (and regression targets) with "
        "the training split's mean and standard deviation (stored in private/preprocessing.json)",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--widths",
        type=_widths,
        default=None,
        help="layer widths of a fresh MLP, e.g. 64,32,10 (first = features, last = outputs)",
    )
    g.add_argument("--model", help="a torch.nn.Sequential of Linear and ReLU saved with torch.save")
    p.add_argument("--steps", type=_positive, default=steps, help=f"SGD steps to train and prove (default {steps})")
    p.add_argument("--batch", type=_positive, default=batch, help=f"batch size (default {batch})")
    p.add_argument(
        "--allow-repeat",
        action="store_true",
        help="allow a batch larger than the training rows (rows then repeat within a batch)",
    )
    p.add_argument("--frac-bits", type=int, default=16, help="fixed-point fractional bits F (default 16)")
    p.add_argument(
        "--loss",
        choices=("mse", "ce"),
        default="mse",
        help="training loss: mse (squared error on one-hot targets, default) or ce (softmax cross-entropy, "
        "classification only)",
    )
    lr = p.add_mutually_exclusive_group()
    lr.add_argument(
        "--lr",
        type=_positive_float,
        help="learning rate on the batch-mean loss; mapped to the nearest "
        "supported batch·2^-s (the value used is reported)",
    )
    lr.add_argument("--lr-shift", type=int, default=None, help="learning-rate shift s, η = batch·2^-s (default 8)")
    p.add_argument(
        "--update-bits",
        type=int,
        default=None,
        help="declared range of one step's weight and bias updates, signed bits at scale 2^F (default F − 1: "
        "|Δw| < 0.5; F + 4 allows |Δw| < 16 at one more committed limb per weight per step)",
    )
    p.add_argument(
        "--range",
        dest="range_backend",
        choices=("lookup", "bits"),
        default="lookup",
        help="range-check back-end (default lookup)",
    )
    p.add_argument("--schedule-seed", type=int, default=None, help="public seed of the batch order")
    p.add_argument("--seed", type=int, default=0, help="initialisation and train/test split seed")
    p.add_argument("--no-bias", action="store_true", help="fresh model (--widths) without biases")
    p.add_argument("--backend", choices=("auto", "cpu", "gpu"), default="cpu", help="compute backend")
    p.add_argument("--force", action="store_true", help="replace the outputs of an earlier run in --out")
    p.add_argument(
        "--transparent",
        action="store_true",
        help="debugging only: a proof that is NOT zero-knowledge (marked in the proof header)",
    )
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")


def _training_arguments(args) -> dict:
    """What ``zkdl prove`` and ``zkdl demo`` pass to :func:`zkdl.api.prove_training` and
    :func:`zkdl.api.prove_run` alike (the training run and how to prove it), after the checks and the warning
    that apply to both."""
    from . import api

    if args.no_bias and args.model is not None:
        raise ZkdlError("--no-bias applies to a fresh model (--widths); the layers of --model keep their own biases")
    api.use_backend(args.backend)
    if args.transparent:
        print(
            "zkdl: WARNING: --transparent makes a proof that is NOT zero-knowledge: it reveals values of the "
            "private witness (data, weights, gradients). Use it for debugging only; `zkdl verify` refuses it "
            "unless given --allow-transparent.",
            file=sys.stderr,
            flush=True,
        )
    return dict(
        widths=args.widths,
        model=args.model,
        data=args.data,
        steps=args.steps,
        batch_size=args.batch,
        frac_bits=args.frac_bits,
        loss=args.loss,
        lr=args.lr,
        lr_shift=args.lr_shift,
        update_bits=args.update_bits,
        range_backend=args.range_backend,
        schedule_seed=args.schedule_seed,
        bias=False if args.no_bias else None,
        seed=args.seed,
        task=args.task,
        target=args.target,
        standardize=args.standardize,
        allow_repeat=args.allow_repeat,
        out_dir=args.out,
        verify_after=not getattr(args, "no_verify", False),
        zero_knowledge=not args.transparent,
        command_line=["zkdl", *args.argv],
    )


def _prove(args, *, compare_float: bool):
    from . import api

    kwargs = _training_arguments(args)
    display = _display(args)
    try:
        return api.prove_training(
            **kwargs,
            progress=display,
            on_step=display.on_step,
            compare_float=compare_float,
            overwrite=args.force or getattr(args, "replace_default", False),
            test_split=getattr(args, "test_split", False),
            memory=getattr(args, "memory", None),
        )
    finally:
        display.close()


def _prove_run(args):
    from . import api

    kwargs = _training_arguments(args)
    display = _display(args)
    try:
        return api.prove_run(
            **kwargs,
            chunk_steps=None if args.chunk_steps == "auto" else args.chunk_steps,
            memory=args.memory,
            workers=args.workers,
            ray_address=args.ray_address,
            resume=args.resume,
            progress=display,
            on_step=display.on_step,
            overwrite=args.force,
        )
    finally:
        display.close()


def _run_lines(bundle) -> list[str]:
    s = bundle.summary
    lines = [
        f"zkdl prove: {s['steps']} steps on {s['data_name']} in {s['chunks']} chunks of {s['chunk_steps']} steps",
        f"  model                {s['widths']}, batch {s['batch_size']}, learning rate {s['learning_rate']:g}",
        f"  prove                {s['prove_seconds']:.2f} s ({s['prove_seconds_per_step']:.2f} s/step) on "
        f"{s['workers']} worker(s); chunks proven {len(s['chunks_proven'])}, kept from before "
        f"{len(s['chunks_resumed'])}",
    ]
    if "quantized_accuracy_final" in s:
        lines.append(
            f"  held-out accuracy    quantized {s['quantized_accuracy_final']:.4f}   "
            f"(before training {s['quantized_accuracy_initial']:.4f})"
        )
    if "verified" in s:
        lines.append(
            f"  verify               {s['verify_seconds']:.2f} s  -> {'VALID' if s['verified'] else 'INVALID'}"
        )
    lines += [f"  proofs               {s['proof_bytes']} bytes; manifest {s['manifest_bytes']} bytes"]
    lines.append(f"  written to           {bundle.out_dir} (verify: zkdl verify {bundle.out_dir})")
    return lines


def _summary_lines(bundle, title: str) -> list[str]:
    s = bundle.summary
    lines = [
        title,
        f"  model                {s['widths']}, batch {s['batch_size']}, {s['steps']} steps, "
        f"learning rate {s['learning_rate']:g}"
        + (
            f" (requested {s['learning_rate_requested']:g}; lr-shift {s['lr_shift']})"
            if "learning_rate_requested" in s
            else f" (lr-shift {s['lr_shift']})"
        ),
    ]
    if s["task"] == "classification":
        flt = f"float {s['float_accuracy_final']:.4f}   " if "float_accuracy_final" in s else ""
        lines.append(
            f"  held-out accuracy    {flt}quantized {s['quantized_accuracy_final']:.4f}   "
            f"(before training {s['quantized_accuracy_initial']:.4f})"
        )
    else:
        lines.append(
            f"  held-out MSE         {s['quantized_mse_final']:.6g}   "
            f"(before training {s['quantized_mse_initial']:.6g})"
        )
    lines.append(
        f"  prove                {s['prove_seconds']:.2f} s ({s['prove_seconds_per_step']:.2f} s/step), "
        f"{'zero-knowledge' if s['zero_knowledge'] else 'TRANSPARENT (not zero-knowledge)'}"
    )
    if "verified" in s:
        verdict = "VALID" if s["verified"] else "INVALID"
        lines.append(f"  verify               {s['verify_seconds']:.2f} s  -> {verdict}")
    lines += [
        f"  proof                {s['proof_bytes']} bytes; statement commitments "
        f"{s['statement_commitment_bytes']} bytes",
        f"  statement digest     {s['statement_digest']}",
        *(
            [f"  test split           {s['test_split_rows']} held-out rows committed in the statement"]
            if "test_split_rows" in s
            else []
        ),
        f"  written to           {bundle.out_dir}",
    ]
    return lines


def cmd_setup(args) -> int:
    from . import api

    say = None if args.quiet else (lambda msg: print(f"zkdl: {msg}", file=sys.stderr))
    out = api.setup_generators(args.n, args.path, progress=say)
    if args.json:
        print(json.dumps({"ok": True, **out}))
    else:
        print(
            f"{out['path']}: {out['generators']} generators ({out['action']}), {out['bytes']} bytes, "
            f"digest {out['digest']}"
        )
    return 0


def cmd_prove(args) -> int:
    # --chunk-steps auto: the memory planner picks the largest chunk that fits --memory (a run that fits whole is
    # still written as a run directory with one chunk)
    chunked = args.chunk_steps == "auto" or (args.chunk_steps is not None and args.chunk_steps < args.steps)
    if args.resume and not chunked:
        raise ZkdlError(
            "--resume finishes a chunked run: give the --chunk-steps (smaller than --steps) it was run with"
        )
    if not chunked and (args.workers is not None and args.workers > 1 or args.ray_address is not None):
        raise ZkdlError("--workers and --ray-address prove the chunks of a chunked run: add --chunk-steps K")
    if chunked and getattr(args, "test_split", False):
        raise ZkdlError(
            "--test-split is not available for chunked runs yet: commit the split with an unchunked run "
            "(leave out --chunk-steps)"
        )
    if chunked:
        run = _prove_run(args)
        if args.json:
            print(json.dumps({"ok": True, "out": str(run.out_dir), **run.summary}))
        else:
            print("\n".join(_run_lines(run)))
        return 0
    bundle = _prove(args, compare_float=False)
    if args.json:
        print(json.dumps({"ok": True, "out": str(bundle.out_dir), **bundle.summary}))
    else:
        print(
            "\n".join(
                _summary_lines(bundle, f"zkdl prove: {bundle.summary['steps']} steps on {bundle.summary['data_name']}")
            )
        )
    return 0


def cmd_verify(args) -> int:
    from pathlib import Path

    from . import api

    if Path(args.proof).is_dir() and (Path(args.proof) / api.EVAL_STATEMENT_FILE).is_file():
        return _verify_evaluation_dir(args)
    if args.statement is None:  # a run: a directory (chunked or not) or its run.json
        run = api.verify_run(
            args.proof, workers=args.workers, params_path=args.params, allow_transparent=args.allow_transparent
        )
        if args.json:
            print(json.dumps({"ok": True, **run.to_dict()}))
        else:
            print(run.describe())
        return 0 if run.valid else 1
    res = api.verify(args.proof, args.statement, params_path=args.params, allow_transparent=args.allow_transparent)
    if args.json:
        print(json.dumps({"ok": True, **res.to_dict()}))  # ok: the input was usable; "valid" is the verdict
    else:
        print(res.describe())
    return 0 if res.valid else 1


def _verify_evaluation_dir(args) -> int:
    """``zkdl verify EVAL``: an evaluation or inference directory (its kind is in evaluation.json)."""
    import json as _json
    from pathlib import Path

    from . import api

    try:
        kind = _json.loads((Path(args.proof) / api.EVAL_STATEMENT_FILE).read_bytes()).get("kind")
    except (ValueError, AttributeError):
        kind = None  # not JSON, or not an object: verify_evaluation's strict parser says what is wrong
    check = api.verify_inference if kind == "inference" else api.verify_evaluation
    res = check(
        args.proof, training_statement=args.statement, params_path=args.params, allow_transparent=args.allow_transparent
    )
    if args.json:
        print(json.dumps({"ok": True, **res.to_dict()}))
    else:
        print(res.describe())
    return 0 if res.valid else 1


def _evaluation_lines(bundle, title: str) -> list[str]:
    s = bundle.summary
    lines = [title, f"  test data            {s['data_mode']}: {s['test_data']}"]
    if s["kind"] == "evaluation" and "sse" in s:
        lines.append(f"  proven SSE           {s['sse']}  (Σ (O − Y)², fixed point at scale 2^{s['sse_scale_bits']})")
        lines.append(
            f"  MSE                  {s['mse']:.6g} per output entry (quantized targets' units), "
            f"{s['mse_user_units']:.6g} in your units"
        )
    elif s["kind"] == "evaluation":
        lines.append(f"  proven accuracy      {s['accuracy']:.4f}  ({s['correct']} of {s['n_rows']} rows correct)")
    else:
        preds = s["predictions"]
        more = f", … ({len(preds)} in all)" if len(preds) > 32 else ""
        lines.append("  proven classes       " + ", ".join(map(str, preds[:32])) + more)
    lines.append(
        f"  prove                {s['prove_seconds']:.2f} s, "
        f"{'zero-knowledge' if s['zero_knowledge'] else 'TRANSPARENT (not zero-knowledge)'}"
    )
    if "verify_seconds" in s:
        lines.append(f"  verify               {s['verify_seconds']:.2f} s  -> VALID")
    lines += [
        f"  proof                {s['proof_bytes']} bytes",
        f"  training statement   {s['training_statement_digest']}",
        f"  written to           {bundle.out_dir}",
    ]
    return lines


def _prove_with_final_model(args, prove, data, title: str, **extra) -> int:
    """``zkdl evaluate`` / ``zkdl infer``: one proof about the run's committed final model."""
    from . import api

    api.use_backend(args.backend)
    bundle = prove(
        args.run,
        data,
        **extra,
        out_dir=args.out,
        params_path=args.params,
        zero_knowledge=not args.transparent,
        overwrite=args.force,
    )
    if args.json:
        print(json.dumps({"ok": True, "out": str(bundle.out_dir), **bundle.summary}))
    else:
        print("\n".join(_evaluation_lines(bundle, f"{title} {args.run}")))
    return 0


def cmd_evaluate(args) -> int:
    from . import api

    title = "zkdl evaluate: proven test performance of"
    return _prove_with_final_model(args, api.evaluate, args.data, title, private_data=args.private_data)


def cmd_infer(args) -> int:
    from . import api

    return _prove_with_final_model(args, api.infer, args.input, "zkdl infer: proven predictions of")


def cmd_inspect(args) -> int:
    from . import api

    info = api.inspect_proof(args.proof)
    names = {"HEAD": "statement digest", "COMM": "commitments", "SUMC": "sumcheck messages", "OPEN": "openings"}
    if args.json:
        print(json.dumps({"ok": True, **info}, default=str))
        return 0
    mode = "zero-knowledge" if info.get("zero_knowledge") else "TRANSPARENT (not zero-knowledge; debugging only)"
    print(
        f"proof {args.proof}: {info['bytes']} bytes, format {info.get('format_version')}, "
        f"protocol {info.get('protocol_id')}"
    )
    print(f"  mode  {mode}")
    for sec in info.get("sections", []):
        tag, length = sec["tag"], sec["length"]
        print(f"  {tag}  {length:>10} bytes  {names.get(tag, '')}")
    return 0


def cmd_check_commitment(args) -> int:
    from . import api

    res = api.check_commitment(
        args.statement,
        args.tensor,
        args.data,
        args.opening,
        params_path=args.params,
        seed=args.seed,
        task=args.task,
        target=args.target,
        standardize=args.standardize,
    )
    if args.json:
        print(json.dumps({"ok": True, **res.to_dict()}))
    else:
        print(res.describe())
    return 0 if res.matches else 1


def cmd_demo(args) -> int:
    if args.widths is None and args.model is None:
        args.widths = _widths(DEMO_WIDTHS)
    args.replace_default = args.out == DEMO_OUT  # rerunning the demo replaces its own default output
    bundle = _prove(args, compare_float=True)
    if args.json:
        print(json.dumps({"ok": True, "out": str(bundle.out_dir), **bundle.summary}))
    else:
        print("\n".join(_summary_lines(bundle, "zkdl demo: proof of quantized SGD training on " + args.data)))
    return 0


def cmd_export(args) -> int:
    from . import api

    out = api.export_model(args.run, args.format, args.out)
    if args.json:
        print(json.dumps({"ok": True, "format": args.format, "out": str(out)}))
    else:
        print(f"{out}: the final model of {args.run} as {args.format} (inputs: the run's preprocessed features)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="zkdl", description="Zero-knowledge proofs of neural-network training.")
    ap.add_argument("--version", action="version", version=f"zkdl {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("setup", help="derive the public generators (hash-to-curve) and cache them")
    p.add_argument("--n", type=_positive, default=4096, help="number of generators (default 4096)")
    p.add_argument("--path", help="cache file (default: the shared cache, $ZKDL_HOME or ~/.cache/zkdl)")
    _common(p)
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("prove", help="train T steps and write proof.zkdl, statement.json and private artifacts")
    _add_training_args(p, steps=4, batch=32)
    p.add_argument("--out", default="zkdl-out", help="output directory (default zkdl-out)")
    p.add_argument("--no-verify", action="store_true", help="do not re-verify the proof before exiting")
    p.add_argument(
        "--test-split",
        action="store_true",
        help="commit the held-out split in the statement (before any step is proven); `zkdl evaluate` then "
        "proves the accuracy on exactly that split",
    )
    p.add_argument(
        "--chunk-steps",
        type=_chunk_steps,
        default=None,
        help="prove the run as a chain of chunk proofs of K consecutive steps each, or 'auto': the largest K whose "
        "estimated peak memory fits --memory (default: one proof); writes run.json and chunks/NNNN/",
    )
    p.add_argument(
        "--workers",
        type=_positive,
        default=None,
        help="chunk proofs at once (default: the cores); 1 proves in this process, more use Ray (the [cluster] extra)",
    )
    p.add_argument(
        "--ray-address", default=None, help="prove the chunks on an existing Ray cluster (auto or ray://host:port)"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted chunked run in --out: keep its chunks whose proofs verify, prove the rest",
    )
    p.add_argument(
        "--memory",
        default=None,
        help="memory budget of the prover, like 12G or 512M (default: 60%% of the available memory); a run whose "
        "estimated peak exceeds it is refused before any work",
    )
    p.set_defaults(func=cmd_prove)

    p = sub.add_parser(
        "verify",
        help="verify a run (its directory or run.json), a proof against --statement, or an evaluation/inference "
        "directory (exit 0 valid, 1 invalid, 2 unusable)",
    )
    p.add_argument(
        "proof", help="a run directory or its run.json; a proof file, with --statement; or an evaluation directory"
    )
    p.add_argument(
        "--statement",
        default=None,
        help="statement.json of the proof file; for an evaluation or inference directory, the training statement "
        "you trust instead of the directory's copy",
    )
    p.add_argument(
        "--workers", type=_positive, default=None, help="chunk proofs of a run verified at once (default: the cores)"
    )
    p.add_argument(
        "--params", help="generator cache file, never created (default: the shared cache, $ZKDL_HOME or ~/.cache/zkdl)"
    )
    _common(p)
    p.add_argument(
        "--allow-transparent",
        action="store_true",
        help="accept a transparent (not zero-knowledge, debugging) proof; refused by default",
    )
    p.set_defaults(func=cmd_verify)

    for name, helptext in (
        ("evaluate", "prove the test accuracy (or regression SSE) of a run's committed final model (writes EVAL dir)"),
        ("infer", "prove the predictions of a run's committed final model on public inputs"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("run", help="the training run directory (--out of zkdl prove)")
        if name == "evaluate":
            p.add_argument(
                "--data",
                help="test data: the run's own data source (default, from its summary) gives its held-out split; "
                "another bundled name or .npz/.npy/.csv file is used whole",
            )
            p.add_argument(
                "--private-data",
                action="store_true",
                help="never reveal the test rows: prove against commitments only (the held-out split's in the "
                "training statement, or fresh ones in evaluation.json); rows and openings go to OUT/private/",
            )
        else:
            p.add_argument("--input", required=True, help="an .npy array of input rows (features in your units)")
        p.add_argument("--out", required=True, help="output directory")
        p.add_argument("--params", help="generator cache file (default: the shared cache)")
        p.add_argument("--backend", choices=("auto", "cpu", "gpu"), default="cpu", help="compute backend")
        p.add_argument("--force", action="store_true", help="replace an earlier result in --out")
        p.add_argument("--transparent", action="store_true", help="debugging only: a proof that is NOT zero-knowledge")
        _common(p)
        p.set_defaults(func=cmd_evaluate if name == "evaluate" else cmd_infer)

    p = sub.add_parser("inspect", help="mode (zero-knowledge or transparent) and sizes of a proof by section")
    p.add_argument("proof")
    _common(p)
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser(
        "check-commitment",
        help="confirm that a statement's commitment is to your data under the given opening (exit 0 yes, 1 no)",
    )
    p.add_argument(
        "--statement",
        required=True,
        help="statement.json of the run, or evaluation.json of an evaluation on data committed at evaluation time",
    )
    p.add_argument(
        "--tensor",
        required=True,
        help="X, Y, W0.l, b0.l, WT.l, bT.l, test_split.X or test_split.Y (run); X or Y (evaluation.json)",
    )
    p.add_argument(
        "--data",
        required=True,
        help="the tensor's integer values as committed (.npy; test data: the quantized rows, class labels or "
        "targets, as in the evaluation's private/), or for X / Y the training data as given to prove",
    )
    p.add_argument("--opening", required=True, help="private/openings.json of the run or evaluation (blinding factors)")
    p.add_argument("--seed", type=int, default=0, help="the seed the run split its data with (default 0)")
    p.add_argument("--task", default="auto", choices=("auto", "classification", "regression"))
    p.add_argument("--target", default=None, help="the target column the run used, for tabular files")
    p.add_argument("--standardize", action="store_true", help="the run standardized its features")
    p.add_argument("--params", help="generator cache file (default: the shared cache)")
    _common(p)
    p.set_defaults(func=cmd_check_commitment)

    p = sub.add_parser("export", help="write a run's final model as a torch state dict, ONNX or npz")
    p.add_argument("run", help="a prove run's output directory")
    p.add_argument("--format", choices=("torch", "onnx", "npz"), default="torch", help="default torch")
    p.add_argument("--out", required=True, help="the file to write")
    _common(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("demo", help="digits end to end: train, prove, verify, summary")
    _add_training_args(p, steps=64, batch=64)
    p.add_argument("--out", default=DEMO_OUT, help=f"output directory (default {DEMO_OUT}, replaced on rerun)")
    p.set_defaults(func=cmd_demo)
    return ap


def _log_level(args) -> int:
    if args.log_level:
        return getattr(logging, args.log_level.upper())
    if args.quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _Parser.json_requested = "--json" in argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    logging.basicConfig(level=_log_level(args), stream=sys.stderr, format="[zkdl] %(message)s", force=True)
    log.setLevel(_log_level(args))

    def fail(kind: str, message: str, code: int) -> int:
        print(f"zkdl: error: {kind}: {message}" if kind else f"zkdl: error: {message}", file=sys.stderr)
        if args.json:
            _json_error(kind or "Error", message)
        return code

    try:
        return int(args.func(args))
    except ZkdlError as exc:
        return fail(type(exc).__name__, str(exc), 2)
    except ImportError as exc:
        from .errors import MissingDependency

        missing = MissingDependency.of(exc)
        if missing is None:
            raise
        return fail("MissingDependency", str(missing), 2)
    except OSError as exc:
        return fail(type(exc).__name__, str(exc), 2)
    except MemoryError:
        return fail("MemoryError", "out of memory; lower --steps or --batch", 2)
    except KeyboardInterrupt:
        print("zkdl: interrupted", file=sys.stderr)
        if args.json:
            _json_error("KeyboardInterrupt", "interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
