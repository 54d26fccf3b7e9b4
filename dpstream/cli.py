"""`dpstream` command line: private counts of a stream, demos and cheap audits. Errors are one-line messages with
an exit code: 2 bad usage or input (nothing more is released), 1 I/O failure, 3 an audit flagged a mechanism.

Conventions shared with ``zkdl``: ``--version``; on every command ``--json`` (results, and errors as
``{"ok": false, "error_type": ..., "message": ...}``, on stdout), ``-v`` / ``--log-level`` and ``--quiet``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from dpstream import __version__

EXIT_OK, EXIT_USAGE, EXIT_FAILED, EXIT_FLAGGED = 0, 2, 1, 3


def _json_error(kind: str, message: str) -> None:
    print(json.dumps({"ok": False, "error_type": kind, "message": message}))


class _Parser(argparse.ArgumentParser):
    json_requested = False  # set by main() when --json is on the command line

    def error(self, message):  # argparse prints usage and exits 2; keep that, without a traceback
        self.print_usage(sys.stderr)
        print(f"dpstream: error: {message}", file=sys.stderr)
        if _Parser.json_requested:
            _json_error("UsageError", message)
        raise SystemExit(EXIT_USAGE)


def _common(p: argparse.ArgumentParser) -> None:
    """Options every command takes (the same as zkdl's)."""
    p.add_argument("--json", action="store_true", help="machine-readable output (and errors) on stdout")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log lines on stderr (-vv: debug)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), help="log level (overrides -v)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _positive_float(s: str) -> float:
    """An argparse type: a finite number > 0 (:func:`dpstream.base.check_positive`)."""
    from dpstream.base import InvalidParameter, check_positive

    try:
        return check_positive("the value", s)
    except InvalidParameter:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {s!r}") from None


def _int_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum`` (:func:`dpstream.base.check_int`)."""

    def parse(s: str) -> int:
        from dpstream.base import InvalidParameter, check_int

        try:
            return check_int("the value", int(s), minimum)
        except (ValueError, InvalidParameter):
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {s!r}") from None

    return parse


_nonneg_int = _int_at_least(0)
_pos_int = _int_at_least(1)


def _progress(quiet: bool):
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    return say


def _cmd_demo_lower_bound(args) -> int:
    from dpstream.lowerbound.demo import format_summary, run_lower_bound_demo

    res = run_lower_bound_demo(args.out, quick=args.quick, rho=args.rho, seed=args.seed, progress=_progress(args.quiet))
    if args.json:
        print(json.dumps({"ok": True, "out": str(args.out), **res}, default=str))
        return EXIT_OK
    print(format_summary(res))
    print(f"written to {args.out}")
    return EXIT_OK


def _cmd_audit_tracing(args) -> int:
    """Tracing attack through the reduction on one named mechanism; exit 3 if the attack succeeds."""
    from dpstream.lowerbound.broken import BROKEN
    from dpstream.lowerbound.reduction import marginals_via_maxsum, marginals_via_sumselect
    from dpstream.lowerbound.tracing import tracing_attack
    from dpstream.problems import MaxSumSVT, MaxSumTree, SumSelectSVT, SumSelectTree
    from dpstream.problems._common import ProblemMechanism

    known: dict[str, type[ProblemMechanism]] = {
        "maxsum-tree": MaxSumTree,
        "maxsum-svt": MaxSumSVT,
        "sumselect-tree": SumSelectTree,
        "sumselect-svt": SumSelectSVT,
        **BROKEN,
    }
    cls = known[args.mechanism]
    sumselect = cls.problem == "sumselect"
    counter = [0]

    def est(D):
        counter[0] += 1
        s = None if args.seed is None else args.seed * 1000 + counter[0]
        mk = lambda T, d: cls(horizon=T, dim=d, rho=args.rho, seed=s)  # noqa: E731
        return (marginals_via_sumselect(D, mk) if sumselect else marginals_via_maxsum(D, mk)).counts

    res = tracing_attack(
        est,
        n=args.n,
        d=args.d,
        trials=args.trials,
        seed=0 if args.seed is None else args.seed,
        kind="bits" if sumselect else "counts",
        progress=lambda i, k: _progress(args.quiet)(f"trial {i}/{k}"),
    )
    flagged = res.auc - 3 * res.auc_se > 0.5
    out = {
        "ok": True,
        "mechanism": cls.__name__,
        "claimed_rho": args.rho,
        "n": args.n,
        "d_prime": args.d,
        "trials": args.trials,
        "auc": res.auc,
        "auc_se": res.auc_se,
        "flagged": bool(flagged),
    }
    print(
        json.dumps(out)
        if args.json
        else f"{cls.__name__}: tracing AUC {res.auc:.3f} ± {res.auc_se:.3f} -> "
        + ("FLAGGED: membership is detectable (AUC > 0.5 at 3 s.e.)" if flagged else "not flagged")
    )
    return EXIT_FLAGGED if flagged else EXIT_OK


def _cmd_count(args) -> int:
    """Private running counts of a stream of numbers / JSON lines, one JSON line per release."""
    from dpstream import counters
    from dpstream.base import DPError, InvalidParameter
    from dpstream.streams import chunks, read_items

    key = None
    if args.key_file is not None:
        with open(args.key_file, "rb") as f:
            key = f.read()
    params: dict = {}
    if args.rho is not None and args.epsilon is not None:
        raise InvalidParameter("give one of --rho and --epsilon")
    if args.rho is not None or args.epsilon is not None:
        params["privacy"] = counters.zCDP(args.rho) if args.rho is not None else counters.EpsDP(args.epsilon)
    for name in ("horizon", "dim", "seed"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    if args.bounds is not None:
        params["bounds"] = (args.bounds[0], args.bounds[1])
    if args.clip:
        params["clip"] = True
    if args.release_every != 1:
        params["release_every"] = args.release_every
    if args.state is not None:
        import os

        exists = os.path.exists(args.state) and os.path.getsize(args.state) > 0
        if not exists and "privacy" not in params:
            raise InvalidParameter(
                f"--state {args.state} does not exist yet: give --horizon and --rho (or --epsilon) to create it"
            )
        mech = counters.open(
            args.state,
            args.mechanism if not exists or params else None,
            key=key,
            synchronous=args.synchronous,
            **params,
        )
    else:
        if "privacy" not in params or "horizon" not in params:
            raise InvalidParameter("give --horizon and --rho (or --epsilon), or --state FILE to resume a counter")
        mech = counters.make(args.mechanism, **params)
    src = open(args.input, encoding="utf-8") if args.input not in (None, "-") else sys.stdin  # noqa: SIM115
    out = sys.stdout
    try:
        for chunk in chunks(read_items(src, field=args.field), args.checkpoint_every):
            lines = [n for n, _ in chunk]
            items = [x for _, x in chunk]
            try:
                ys = mech.update_many(items)  # durable: one commit, before anything is printed
            except DPError as e:
                raise type(e)(
                    f"lines {lines[0]}-{lines[-1]}: {e} (the counter holds t={mech.t} items: resume "
                    f"the input after item {mech.t})"
                ) from None
            _write_counts(out, _release_steps_after(mech, len(items), len(ys)), ys)
        if not args.keep_partial:
            fin = getattr(mech, "finish", None)
            if fin is not None:
                ys = fin()
                _write_counts(out, [mech.t] * len(ys), ys)
    finally:
        if src is not sys.stdin:
            src.close()
        close = getattr(mech, "close", None)
        if close is not None:
            close()
    return EXIT_OK


def _release_steps_after(mech, n_items: int, n_out: int) -> list[int]:
    """Item counts of the ``n_out`` answers just released by a batch of ``n_items`` (computed afterwards)."""
    k = getattr(mech, "release_every", 1)
    if k == 1:
        return list(range(mech.t - n_out + 1, mech.t + 1))
    inner = getattr(mech, "mechanism", mech)
    last = mech.t - inner.pending  # the end of the last completed block
    return [last - (n_out - 1 - j) * k for j in range(n_out)]


def _write_counts(out, steps, ys) -> None:
    import numpy as np

    ys = np.asarray(ys)
    if not len(ys):
        return
    vals = ys.tolist()
    out.write("".join(json.dumps({"t": t, "count": v}) + "\n" for t, v in zip(steps, vals, strict=True)))
    out.flush()


def _bounds_pair(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="dpstream", description="Differential privacy under continual observation.")
    p.add_argument("--version", action="version", version=f"dpstream {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    sub.required = True

    demo = sub.add_parser("demo", help="run a demo")
    dsub = demo.add_subparsers(dest="demo", parser_class=_Parser)
    dsub.required = True
    lb = dsub.add_parser("lower-bound", help="error vs T, the reduction and the tracing attack (PNG/CSV/JSON)")
    lb.add_argument("--out", required=True, help="output folder (created if missing)")
    lb.add_argument("--quick", action="store_true", help="small sizes (seconds instead of about a minute)")
    lb.add_argument("--rho", type=_positive_float, default=0.5, help="zCDP budget of every mechanism")
    lb.add_argument("--seed", type=_nonneg_int, default=0, help="seed (demos are reproducible, not private)")
    _common(lb)
    lb.set_defaults(func=_cmd_demo_lower_bound)

    cnt = sub.add_parser(
        "count",
        help="private running counts of numbers / JSON lines (stdin or a file)",
        description="Reads one item per line (a number, a JSON number or list, or a JSON object "
        'with --field) and writes one JSON line {"t": items so far, "count": '
        "private running sum} per release.",
    )
    cnt.add_argument("input", nargs="?", default=None, help="input file (default: stdin, also '-')")
    cnt.add_argument(
        "--mechanism",
        default="binary-tree",
        choices=["binary-tree", "honaker", "smooth-binary", "square-root", "blt", "hybrid"],
    )
    cnt.add_argument("--horizon", type=_pos_int, help="stream length T the noise is calibrated for")
    cnt.add_argument("--rho", type=_positive_float, help="zCDP budget (Gaussian noise)")
    cnt.add_argument("--epsilon", type=_positive_float, help="pure DP budget (Laplace noise)")
    cnt.add_argument("--dim", type=_pos_int, help="coordinates of one item (default 1)")
    cnt.add_argument(
        "--bounds",
        type=_bounds_pair,
        nargs=2,
        metavar=("LO", "HI"),
        help="range of every coordinate (default 0 1); the noise scales with HI-LO",
    )
    cnt.add_argument("--clip", action="store_true", help="clip items outside the bounds instead of failing")
    cnt.add_argument(
        "--release-every",
        type=_pos_int,
        default=1,
        help="publish the count after every k-th item only (noise for T/k releases)",
    )
    cnt.add_argument(
        "--keep-partial",
        action="store_true",
        help="with --release-every: do not release the last partial block at the end of the input",
    )
    cnt.add_argument("--field", help="take the item from this field of a JSON object per line")
    cnt.add_argument("--state", help="SQLite store: created if missing, resumed if present (crash-safe)")
    cnt.add_argument("--key-file", help="file whose bytes (>= 16) authenticate the --state store (HMAC)")
    cnt.add_argument(
        "--synchronous",
        choices=["full", "normal"],
        default="full",
        help="full: fsync every commit (survives power loss); normal: survives kill -9 only",
    )
    cnt.add_argument(
        "--checkpoint-every",
        type=_pos_int,
        default=1000,
        help="items per commit and per output flush (1 for live pipes)",
    )
    cnt.add_argument("--seed", type=_nonneg_int, default=None, help="reproducible noise (tests only: not private)")
    _common(cnt)  # the output is JSON lines already; --json adds errors as JSON on stdout
    cnt.set_defaults(func=_cmd_count)

    audit = sub.add_parser("audit", help="empirical privacy checks")
    asub = audit.add_subparsers(dest="audit", parser_class=_Parser)
    asub.required = True
    tr = asub.add_parser("tracing", help="membership attack through the reduction; exit 3 if flagged")
    tr.add_argument(
        "mechanism",
        choices=[
            "maxsum-tree",
            "maxsum-svt",
            "sumselect-tree",
            "sumselect-svt",
            "broken-tree-per-column",
            "broken-svt-reused-noise",
            "broken-tree-per-column-sumselect",
        ],
    )
    tr.add_argument("--rho", type=_positive_float, default=0.5)
    tr.add_argument("--n", type=int, default=40, help="dataset rows")
    tr.add_argument("--d", type=int, default=200, help="dataset columns d'")
    tr.add_argument("--trials", type=int, default=3)
    tr.add_argument("--seed", type=_nonneg_int, default=None)
    _common(tr)
    tr.set_defaults(func=_cmd_audit_tracing)
    return p


def _log_level(args) -> int:
    if getattr(args, "log_level", None):
        return getattr(logging, args.log_level.upper())
    return {0: logging.WARNING, 1: logging.INFO}.get(getattr(args, "verbose", 0), logging.DEBUG)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _Parser.json_requested = "--json" in argv
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=_log_level(args), stream=sys.stderr, format="[dpstream] %(message)s", force=True)
    as_json = getattr(args, "json", False)

    def fail(kind: str, message: str, code: int) -> int:
        print(f"dpstream: error: {message}", file=sys.stderr)
        if as_json:
            _json_error(kind, message)
        return code

    try:
        from dpstream.base import DPError

        try:
            return int(args.func(args))
        except DPError as e:
            return fail(type(e).__name__, str(e), EXIT_USAGE)
    except KeyboardInterrupt:
        print("dpstream: interrupted", file=sys.stderr)
        if as_json:
            _json_error("KeyboardInterrupt", "interrupted")
        return 130
    except OSError as e:
        return fail(type(e).__name__, f"{e.strerror or e} ({getattr(e, 'filename', '') or ''})", EXIT_FAILED)
    except MemoryError:
        return fail("MemoryError", "out of memory; use smaller sizes (e.g. --quick)", EXIT_FAILED)
    except Exception as e:  # last resort: never a traceback, but say it is a bug
        return fail("InternalError", f"internal error ({type(e).__name__}: {e}); please report it", EXIT_FAILED)


if __name__ == "__main__":
    sys.exit(main())
