"""`dpstream` command line: demos and cheap audits. Errors are one-line messages with an exit code.

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
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {s!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {s!r}")
    return v


def _nonneg_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {s!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {s!r}")
    return v


def _progress(quiet: bool):
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    return say


def _cmd_demo_lower_bound(args) -> int:
    from dpstream.lowerbound.demo import format_summary, run_lower_bound_demo

    res = run_lower_bound_demo(args.out, quick=args.quick, rho=args.rho, seed=args.seed,
                               progress=_progress(args.quiet))
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

    known = {"maxsum-tree": MaxSumTree, "maxsum-svt": MaxSumSVT, "sumselect-tree": SumSelectTree,
             "sumselect-svt": SumSelectSVT, **BROKEN}
    cls = known[args.mechanism]
    sumselect = cls.problem == "sumselect"
    counter = [0]

    def est(D):
        counter[0] += 1
        s = None if args.seed is None else args.seed * 1000 + counter[0]
        mk = lambda T, d: cls(horizon=T, dim=d, rho=args.rho, seed=s)  # noqa: E731
        return (marginals_via_sumselect(D, mk) if sumselect else marginals_via_maxsum(D, mk)).counts

    res = tracing_attack(est, n=args.n, d=args.d, trials=args.trials,
                         seed=0 if args.seed is None else args.seed, kind="bits" if sumselect else "counts",
                         progress=lambda i, k: _progress(args.quiet)(f"trial {i}/{k}"))
    flagged = res.auc - 3 * res.auc_se > 0.5
    out = {"ok": True, "mechanism": cls.__name__, "claimed_rho": args.rho, "n": args.n, "d_prime": args.d,
           "trials": args.trials, "auc": res.auc, "auc_se": res.auc_se, "flagged": bool(flagged)}
    print(json.dumps(out) if args.json else
          f"{cls.__name__}: tracing AUC {res.auc:.3f} ± {res.auc_se:.3f} -> "
          + ("FLAGGED: membership is detectable (AUC > 0.5 at 3 s.e.)" if flagged else "not flagged"))
    return EXIT_FLAGGED if flagged else EXIT_OK


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

    audit = sub.add_parser("audit", help="empirical privacy checks")
    asub = audit.add_subparsers(dest="audit", parser_class=_Parser)
    asub.required = True
    tr = asub.add_parser("tracing", help="membership attack through the reduction; exit 3 if flagged")
    tr.add_argument("mechanism", choices=["maxsum-tree", "maxsum-svt", "sumselect-tree", "sumselect-svt",
                                          "broken-tree-per-column", "broken-svt-reused-noise",
                                          "broken-tree-per-column-sumselect"])
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
