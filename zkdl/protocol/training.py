"""The training proof: T steps of quantized SGD on an MLP, proven together (FAC4DNN) and verified.

This module is the table of contents. The relation, tensor by tensor, and the order of every message are in
``docs/protocol.md``; the transcript schedule in ``docs/transcript.md``. In short:

* Committed (the only multi-scalar multiplications): the statement's tensors ``X, Y, W0.l, b0.l, WT.l, bT.l``
  and, in the proof, the range tensors ``L0, L1, …`` (every range-checked integer as ≤16-bit limbs: ReLU signs
  and magnitudes, rescaling remainders, rescaled input gradients, ΔW, Δb, the output, packed by size, each
  tensor padded only to its own power of two) with the range back-end's tables (one ``m`` for lookup, a
  ``B_k`` per range tensor for bits).
* Every other tensor (Z, A, G_A, G_Z, G_W, per-step weights) is *virtual*: claims on it are reduced by
  sumchecks to claims on committed tensors. All steps of a layer are stacked on a leading step axis, so each
  relation is one sumcheck over all steps (order-independent, after training).
* A claim registry reduces all claims on a committed tensor to one opening.

The proof runs: commit the range tensors and their tables → the range check → the relation stages of
:data:`STAGES` in order (each in ``relations/``, prover and verifier side by side) → one opening per committed
tensor. :func:`prove` and :func:`verify` walk the same list.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..commit.generators import N_MAX, PublicParams
from ..commit.ipa_fold import prestart as prestart_fold_helper
from ..commit.pedersen import Commitment, Layout, Opening, commit, commit_int
from ..commit.sigma import DOT_CHUNK, PRODUCT_CHUNK
from ..errors import ProofFormatError, StatementMismatch, VerificationError, ZkdlError
from ..gadgets.range_check import make_range_backend
from ..piop.claims import ClaimRegistry, prove_reduction_keeping_fold, verify_reduction
from ..quant.train import TrainingRun
from ..serialize import ContainerReader, ContainerWriter, SubgroupChecks
from ..serialize.container import FLAG_TRANSPARENT, FORMAT_VERSION
from ..transcript import Transcript
from .channel import SECTIONS, ProverChannel, VerifierChannel
from .relations import history, limbs, loss, matmul, padding, relu, schedule
from .statement import Statement
from .witness import Public, Witness, range_layout
from .zk_channel import ZkProverChannel, ZkVerifierChannel, run_verifier

PROTOCOL_ID = "zkdl/train/v1"

__all__ = [
    "PROTOCOL_ID",
    "STAGES",
    "Public",
    "Stage",
    "Witness",
    "commit_statement_tensors",
    "committed_log_sizes",
    "generators_needed",
    "prove",
    "verify",
]


# =========================================================================================================
# the stages, in protocol order (written once: prove and verify both walk this list)
# =========================================================================================================
@dataclass(frozen=True)
class Stage:
    """One relation stage. ``instances(pub)`` lists what it runs on, in order (layers, or tensor names), each
    passed as the last argument of ``prove(ch, pub, w, reg, virt, instance)`` and
    ``verify(ch, pub, reg, virt, instance)``."""

    name: str
    prove: Callable[..., None]
    verify: Callable[..., None]
    instances: Callable[[Public], Sequence]


def _once(pub: Public) -> list[None]:
    return [None]


def _layers(pub: Public) -> list[int]:
    return list(range(1, pub.n_layers + 1))


def _hidden_layers_backwards(pub: Public) -> list[int]:
    return list(range(pub.n_layers - 1, 0, -1))


STAGES: tuple[Stage, ...] = (
    Stage("relations", matmul.prove, matmul.verify, _layers),  # forward, backward, weight and bias gradients
    Stage("inputs", limbs.prove_input_ranges, limbs.verify_input_ranges, _once),  # ranges of the inputs
    Stage("relu", relu.prove, relu.verify, _hidden_layers_backwards),
    Stage("output", loss.prove_output, loss.verify_output, _once),  # MSE or softmax cross-entropy gradient
    Stage("schedule", schedule.prove, schedule.verify, lambda pub: ["X", "Y"]),  # batches are dataset rows
    Stage("history", history.prove, history.verify, _layers),  # per-step and final weights from the updates
    Stage("padding", padding.prove, padding.verify, _once),  # statement tensors are zero-padded
)


# =========================================================================================================
# the whole proof
# =========================================================================================================
@dataclass
class ProverArtifacts:
    """What the prover keeps: the statement, the openings of every commitment, and timings."""

    statement: Statement
    openings: dict[str, Opening]
    timings: dict[str, float] = field(default_factory=dict)


def _committed_order(pub: Public, backend) -> list[str]:
    names = list(backend.committed_log_sizes(pub.layout)) + list(loss.committed_log_sizes(pub.st)) + ["X", "Y"]
    for l in range(1, pub.n_layers + 1):
        names += [f"W0.{l}", f"WT.{l}"]
        if pub.st.has_bias[l - 1]:
            names += [f"b0.{l}", f"bT.{l}"]
    return names


def _check_parameters(st: Statement) -> None:
    """The statement's fixed-point parameters (parsed and validated when the statement was built) must not allow
    any relation to wrap mod r (``soundness.md`` §2): otherwise a verified proof would not imply the integer
    training step."""
    try:
        st.params.check_no_wrap(st.widths, st.batch_size, st.steps, loss=st.loss)
    except ZkdlError as exc:
        raise StatementMismatch(f"unusable fixed-point parameters in the statement: {exc}") from exc
    if st.loss == "ce" and st.widths[-1] < 2:
        raise StatementMismatch("softmax cross-entropy needs at least two output classes")


def committed_log_sizes(st: Statement) -> dict[str, int]:
    """log2 of the (padded) size of every table committed for this statement: the statement tensors and the range
    back-end's tables. Cheap (no batch schedule)."""
    out = {name: (n - 1).bit_length() for name, n in st.expected_tables().items()}
    out.update(make_range_backend(st.range_backend).committed_log_sizes(range_layout(st)[1]))
    out.update(loss.committed_log_sizes(st))
    return out


def generators_needed(st: Statement) -> int:
    """Vector generators a proof of this statement uses: the widest row of the canonical layouts of its
    commitments (a proof's own tables, ``Layout.for_proof_table``, are no wider than that or ``DOT_CHUNK``), and
    at least what the zero-knowledge sumchecks' masks (chunks of ``DOT_CHUNK`` slots) and the
    batched proofs of product (``PRODUCT_CHUNK``) use. Raises
    ``StatementMismatch`` beyond the canonical set (``N_MAX``): no proof of such a statement can be checked."""
    _check_parameters(st)  # before any size is computed: absurd steps or widths are rejected here
    try:
        sizes = committed_log_sizes(st)
    except ValueError as exc:  # a range-tensor segment beyond any representable size
        raise StatementMismatch(f"the statement's tensors are too large: {exc}") from exc
    need = max(Layout.for_length(1 << k).cols for k in sizes.values())
    if need > N_MAX:
        raise StatementMismatch(
            f"the statement needs rows of {need} generators, more than the {N_MAX} of the canonical generator set"
        )
    return max(need, PRODUCT_CHUNK, DOT_CHUNK)


MODE_ZK = b"zero-knowledge"
MODE_TRANSPARENT = b"transparent"


def _new_transcript(st: Statement, *, zk: bool, format_version: int) -> Transcript:
    """The transcript before any challenge: the container format version, the proof mode (so a proof made in one
    mode never replays in the other, whatever the header flag says) and the statement."""
    t = Transcript(PROTOCOL_ID, version=1)
    t.absorb_u64("container/format-version", format_version)
    t.absorb_bytes("mode", MODE_ZK if zk else MODE_TRANSPARENT)
    t.absorb_bytes("statement", st.canonical_bytes())
    return t


def commit_statement_tensors(params: PublicParams, w: Witness, rng=None) -> tuple[dict, dict]:
    coms, opens = {}, {}
    for name in w.pub.st.expected_tables():
        coms[name], opens[name] = commit_int(params, w.ints[name].reshape(-1), rng=rng)
    return coms, opens


def prove(
    params: PublicParams,
    statement: Statement,
    run: TrainingRun,
    X: np.ndarray,
    Y: np.ndarray,
    statement_openings: dict[str, Opening],
    *,
    rng=None,
    progress: Callable[[str], None] | None = None,
    tamper: Callable[[Witness], None] | None = None,
    zk: bool = True,
) -> tuple[bytes, dict[str, float]]:
    """Prove that ``run`` (whose initial/final weights and data open the statement's commitments) is T steps of
    the quantized SGD. Returns the proof bytes and the prover's time per phase.

    ``tamper`` is for soundness tests only: it may change the witness (``w.ints``, then ``w.refresh()``) before
    anything is committed, turning this into a cheating prover that otherwise follows the protocol."""
    say = progress or (lambda msg: None)
    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        times[name] = times.get(name, 0.0) + now - clock
        clock = now

    pub = Public.of(statement)
    w = Witness(pub, run, X, Y)
    if tamper is not None:
        tamper(w)
    backend = make_range_backend(statement.range_backend)
    t = _new_transcript(statement, zk=zk, format_version=FORMAT_VERSION)
    ch = ZkProverChannel(t, params, rng) if zk else ProverChannel(t)
    ch.writers["HEAD"].write_raw(statement.digest())
    lap("witness")

    say("committing the range tensors")
    tables = backend.committed_tables(pub.layout, w.range_values, strict=tamper is None)
    openings: dict[str, tuple[Commitment, Opening]] = {}
    for name, arr in tables.items():
        lay = Layout.for_proof_table(arr.shape[0])  # bool tables by subset sums, integers by short scalars
        com, op = commit(params, arr, log_cols=lay.log_cols, rng=rng)
        ch.commitment(f"commit/{name}", com)
        openings[name] = (com, op)
        w.ints[name] = arr if arr.dtype == np.int64 else arr.astype(np.int64)
    for name in loss.committed_log_sizes(statement):  # the exponential table's multiplicities (loss "ce")
        ints = w.ints[name]
        com, op = commit(params, ints, log_cols=Layout.for_proof_table(ints.shape[0]).log_cols, rng=rng)
        ch.commitment(f"commit/{name}", com)
        openings[name] = (com, op)
    lap("commit")

    reg = ClaimRegistry()
    virt = ClaimRegistry()
    say("range checks")
    reg.extend(backend.prove(pub.layout, w.range_values, ch, tables=tables))
    lap("range")
    say("layer relations")
    for stage in STAGES:
        for instance in stage.instances(pub):
            stage.prove(ch, pub, w, reg, virt, instance)
            w.release()  # bounded memory: field tables live for one stage instance (one layer)
    assert not virt.names(), f"unreduced virtual claims: {virt.names()}"
    lap("sumchecks")

    say("openings")
    if zk:
        prestart_fold_helper()  # its interpreter starts while the claims are reduced
    for tensor in pub.layout.names():
        l_claims = reg.pop(tensor)
        reg.extend(backend.prove_translate(pub.layout, l_claims, ch, L_values=w.range_values, tables=tables))
    del tables
    for name in _committed_order(pub, backend):
        claims = reg.pop(name)
        if not claims:
            raise AssertionError(f"no claim on committed tensor {name}")
        com, op = openings[name] if name in openings else (statement.commitments[name], statement_openings[name])
        table = w.fr(name)
        claim, folded_rows = prove_reduction_keeping_fold(table, claims, ch, com.layout.log_rows)
        ch.open(params, com, op, table, claim, folded_rows)
        del table, folded_rows
        w.release(name)  # one opened tensor's field table alive at a time
    ch.finish()
    lap("openings")
    cw = ContainerWriter(PROTOCOL_ID, flags=0 if zk else FLAG_TRANSPARENT)
    for sec in SECTIONS:
        cw.add_section(sec, ch.writers[sec])
    return cw.to_bytes(), times


def verify(
    params: PublicParams,
    statement: Statement,
    proof: bytes,
    *,
    channel_factory: Callable | None = None,
    subgroup: SubgroupChecks | None = None,
) -> dict[str, float]:
    """Verify a training proof against a statement. Raises ``ProofFormatError`` (malformed proof),
    ``StatementMismatch`` (made for another statement) or ``VerificationError`` (a failed check).

    ``channel_factory`` (tests and the simulator of ``simulator.py`` only) replaces ``ZkVerifierChannel`` for a
    zero-knowledge proof: called as ``channel_factory(transcript, readers, params)``.

    The points of the proof are subgroup-checked in helper processes while verification goes on
    (:class:`~zkdl.serialize.SubgroupChecks`) and every group equation of a zero-knowledge proof is checked in
    one final MSM (:class:`~zkdl.commit.batch.MsmBatch`); the proof is accepted only once both passed. On a
    rejection the reported cause is, in this order: a point outside the subgroup (``ProofFormatError``), the
    first false deferred group equation, then the error that stopped verification.

    ``subgroup``: the collector holding the deferred subgroup checks of ``statement``'s points (a statement parsed
    with ``Statement.from_json(..., subgroup=...)``, as :func:`zkdl.api.verify` does); the proof's points join it
    and every check must pass before this returns. Its owner closes it."""
    t0 = time.perf_counter()
    statement.check_commitments()
    _check_parameters(statement)
    generators_needed(statement)
    if statement.generators_digest != params.digest.hex():
        raise StatementMismatch("the statement was made with other public parameters (generator digest differs)")
    run_verifier(
        lambda checks, chans: _verify_proof(params, statement, proof, checks, channel_factory, chans), subgroup
    )
    return {"verify": time.perf_counter() - t0}


def _verify_proof(
    params: PublicParams,
    statement: Statement,
    proof: bytes,
    subgroup: SubgroupChecks,
    channel_factory: Callable | None,
    channels: list,
) -> None:
    cr = ContainerReader(proof, protocol_id=PROTOCOL_ID, layout=SECTIONS, subgroup=subgroup)
    zk = not cr.transparent
    readers = {s: cr.section(s) for s in SECTIONS}
    if readers["HEAD"].read_raw(32) != statement.digest():
        raise StatementMismatch("the proof was made for a different statement")
    pub = Public.of(statement)
    backend = make_range_backend(statement.range_backend)
    t = _new_transcript(statement, zk=zk, format_version=cr.format_version)
    ch = (channel_factory or ZkVerifierChannel)(t, readers, params) if zk else VerifierChannel(t, readers)
    channels.append(ch)
    coms: dict[str, Commitment] = dict(statement.commitments)
    proof_tables = {**backend.committed_log_sizes(pub.layout), **loss.committed_log_sizes(statement)}
    for name, log_size in proof_tables.items():
        com = ch.commitment(f"commit/{name}")
        if com.layout != Layout.for_proof_table(1 << log_size):
            raise ProofFormatError(
                f"commitment to {name} is laid out as {com.layout}; the statement permits only the layout of a proof's "
                f"table of 2^{log_size} entries, {Layout.for_proof_table(1 << log_size)}"
            )
        coms[name] = com

    reg = ClaimRegistry()
    virt = ClaimRegistry()
    reg.extend(backend.verify(pub.layout, ch))
    for stage in STAGES:
        for instance in stage.instances(pub):
            stage.verify(ch, pub, reg, virt, instance)
    if virt.names():
        raise VerificationError(f"internal: unreduced virtual claims {virt.names()}")

    for tensor in pub.layout.names():
        l_claims = reg.pop(tensor)
        reg.extend(backend.verify_translate(pub.layout, l_claims, ch))
    for name in _committed_order(pub, backend):
        claims = reg.pop(name)
        if not claims:
            raise VerificationError(f"internal: no claim on committed tensor {name}")
        com = coms[name]
        if any(len(c.point) != com.layout.num_vars for c in claims):
            raise VerificationError(f"claim on {name} at a point of the wrong length")
        claim = verify_reduction(claims, ch)
        ch.open(params, com, claim, what=f"opening of {name}")
    ch.finish()
    cr.finish()
