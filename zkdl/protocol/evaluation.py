"""Evaluation and inference proofs: what the committed final model of a training run does on public data.

Both are bound to a training statement: the only weight commitments they use are its final ones (``WT.l``,
``bT.l``, the same bytes), opened with the training run's openings. The prover commits only the range tensor of
the forward pass (and the range back-end's tables); everything else is virtual, as in training.

* **evaluation** (:data:`STAGES`): the forward pass on labelled inputs, the predicted class of every row
  (``relations/argmax.py``) and the public count of rows whose predicted class equals the label;
* **regression evaluation** (:data:`REGRESSION_STAGES`): the forward pass and the public sum of squared errors
  against the targets (``relations/sse.py``);
* **inference** (:data:`INFERENCE_STAGES`): the forward pass on public inputs with public outputs (the verifier
  takes each row's class as the first maximal output itself).

The proof runs like a training proof: commit the range tensor → range check → the stages in order → one opening
per committed tensor. :func:`prove` and :func:`verify` walk the same list.

The test data of an evaluation is public (the verifier holds the rows) or committed (``test_data`` "committed":
hiding commitments in the evaluation statement, made at evaluation time; "training-split-committed": the training
statement's ``test_split`` commitments, made before training). Committed rows are the tables ``TX`` (inputs) and
``TY`` (one-hot labels or targets): the first layer's forward sumcheck and the argmax or SSE stage leave claims on
them at random points, opened like the weights' (in zero-knowledge mode without revealing the value).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..commit.generators import PublicParams
from ..commit.pedersen import Commitment, Layout, Opening, commit
from ..errors import ProofFormatError, StatementMismatch, VerificationError
from ..gadgets.range_check import make_range_backend
from ..piop.claims import ClaimRegistry, prove_reduction, verify_reduction
from ..serialize import ContainerReader, ContainerWriter, SubgroupChecks
from ..serialize.container import FLAG_TRANSPARENT, FORMAT_VERSION
from ..transcript import Transcript
from .channel import SECTIONS, ProverChannel, VerifierChannel
from .eval_witness import EvalPublic, EvalWitness, check_test_split_opening
from .evaluation_statement import EvalStatement
from .relations import argmax, forward, sse
from .statement import Statement
from .training import MODE_TRANSPARENT, MODE_ZK, Stage, generators_needed
from .zk_channel import ZkProverChannel, ZkVerifierChannel, run_verifier

PROTOCOL_ID = "zkdl/eval/v1"

__all__ = [
    "INFERENCE_STAGES",
    "PROTOCOL_ID",
    "REGRESSION_STAGES",
    "STAGES",
    "EvalPublic",
    "EvalWitness",
    "prove",
    "verify",
]


# (Stage's instances are typed for the training Public; these take an EvalPublic)
def _once(pub: Any) -> list[None]:
    return [None]


def _layers_backwards(pub: Any) -> list[int]:
    return list(range(pub.n_layers, 0, -1))


def _hidden_layers_backwards(pub: Any) -> list[int]:
    return list(range(pub.n_layers - 1, 0, -1))


def _if_committed(pub: Any) -> list[None]:
    return [None] if pub.committed else []


STAGES: tuple[Stage, ...] = (
    Stage("argmax", argmax.prove, argmax.verify, _once),  # predicted classes and the count of correct ones
    Stage("forward", forward.prove_matmul, forward.verify_matmul, _layers_backwards),
    Stage("relu", forward.prove_relu, forward.verify_relu, _hidden_layers_backwards),
    Stage("output", forward.prove_output, forward.verify_output, _once),  # Z'_L is the range-checked output
    Stage("data", forward.prove_data_ranges, forward.verify_data_ranges, _if_committed),  # committed rows in range
    Stage("weights", forward.prove_weight_ranges, forward.verify_weight_ranges, _once),
    Stage("padding", forward.prove_weight_padding, forward.verify_weight_padding, _once),
)

REGRESSION_STAGES: tuple[Stage, ...] = (
    Stage("sse", sse.prove, sse.verify, _once),  # the sum of squared errors against the targets
    *STAGES[1:],
)

INFERENCE_STAGES: tuple[Stage, ...] = (
    Stage("forward", forward.prove_matmul, forward.verify_matmul, _layers_backwards),  # public outputs
    Stage("relu", forward.prove_relu, forward.verify_relu, _hidden_layers_backwards),
    Stage("weights", forward.prove_weight_ranges, forward.verify_weight_ranges, _once),
    Stage("padding", forward.prove_weight_padding, forward.verify_weight_padding, _once),
)


def eval_generators_needed(pub: EvalPublic) -> int:
    """Vector generators the evaluation proof's commitments use (its range tables and the training statement's)."""
    need = generators_needed(pub.st)
    for k in make_range_backend(pub.est.range_backend).committed_log_sizes(pub.layout).values():
        need = max(need, Layout.for_proof_table(1 << k).cols)
    for com in pub.data_commitments.values():
        need = max(need, com.layout.cols)
    return need


def stages_of(est: EvalStatement) -> tuple[Stage, ...]:
    if est.kind == "inference":
        return INFERENCE_STAGES
    return REGRESSION_STAGES if est.regression else STAGES


def _opened_names(pub: EvalPublic) -> list[str]:
    """The committed tensors the proof opens besides its range tables: the test data's, then the final model's."""
    return list(pub.data_commitments) + _weight_names(pub.st)


def _weight_names(st: Statement) -> list[str]:
    names = []
    for l in range(1, st.num_layers + 1):
        names.append(f"WT.{l}")
        if st.has_bias[l - 1]:
            names.append(f"bT.{l}")
    return names


def _new_transcript(st: Statement, est: EvalStatement, *, zk: bool, format_version: int) -> Transcript:
    t = Transcript(PROTOCOL_ID, version=1)
    t.absorb_u64("container/format-version", format_version)
    t.absorb_bytes("mode", MODE_ZK if zk else MODE_TRANSPARENT)
    t.absorb_bytes("training-statement", st.canonical_bytes())
    t.absorb_bytes("evaluation-statement", est.canonical_bytes())
    return t


def _head(st: Statement, est: EvalStatement) -> bytes:
    return st.digest() + est.digest()


def prove(
    params: PublicParams,
    pub: EvalPublic,
    weights,
    biases,
    weight_openings: dict[str, Opening],
    *,
    data: dict | None = None,
    data_openings: dict[str, Opening] | None = None,
    rng=None,
    zk: bool = True,
    tamper: Callable[[EvalWitness], None] | None = None,
) -> tuple[bytes, dict[str, float]]:
    """Prove the forward pass of the final model (``weights``, ``biases``: int64, unpadded, opening the training
    statement's ``WT.l``, ``bT.l`` with ``weight_openings``) on ``pub``'s data. Committed test data: ``data`` the
    rows (``{"X", "labels"}``, see :class:`EvalWitness`) and ``data_openings`` the openings of ``TX``, ``TY``.
    ``tamper`` (soundness tests only) may change the witness before anything is committed."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    st, est = pub.st, pub.est
    w = EvalWitness(pub, weights, biases, data)
    opens = {**weight_openings, **(data_openings or {})}
    if pub.committed and not set(pub.data_commitments) <= set(opens):
        raise StatementMismatch("an evaluation on committed test data needs the openings of TX and TY")
    if tamper is not None:
        tamper(w)
    backend = make_range_backend(est.range_backend)
    t = _new_transcript(st, est, zk=zk, format_version=FORMAT_VERSION)
    ch = ZkProverChannel(t, params, rng) if zk else ProverChannel(t)
    ch.writers["HEAD"].write_raw(_head(st, est))
    tables = backend.committed_tables(pub.layout, w.range_values, strict=tamper is None)
    openings: dict[str, tuple[Commitment, Opening]] = {}
    for name, arr in tables.items():
        com, op = commit(params, arr, log_cols=Layout.for_proof_table(arr.shape[0]).log_cols, rng=rng)
        ch.commitment(f"commit/{name}", com)
        openings[name] = (com, op)
        w.ints[name] = arr.astype(np.int64)
    times["commit"] = time.perf_counter() - t0

    reg, virt = ClaimRegistry(), ClaimRegistry()
    reg.extend(backend.prove(pub.layout, w.range_values, ch, tables=tables))
    for stage in stages_of(est):
        for instance in stage.instances(pub):  # type: ignore[arg-type]
            stage.prove(ch, pub, w, reg, virt, instance)
    assert not virt.names(), f"unreduced virtual claims: {virt.names()}"
    l_claims = reg.pop("L")
    reg.extend(backend.prove_translate(pub.layout, l_claims, ch, L_values=w.range_values, tables=tables))
    coms = {**st.commitments, **pub.data_commitments}
    for name in list(backend.committed_log_sizes(pub.layout)) + _opened_names(pub):
        claims = reg.pop(name)
        if not claims:
            raise AssertionError(f"no claim on committed tensor {name}")
        com, op = openings[name] if name in openings else (coms[name], opens[name])
        table = w.fr(name)
        ch.open(params, com, op, table, prove_reduction(table, claims, ch))
    ch.finish()
    times["prove"] = time.perf_counter() - t0
    cw = ContainerWriter(PROTOCOL_ID, flags=0 if zk else FLAG_TRANSPARENT)
    for sec in SECTIONS:
        cw.add_section(sec, ch.writers[sec])
    return cw.to_bytes(), times


def verify(
    params: PublicParams, pub: EvalPublic, proof: bytes, *, channel_factory: Callable | None = None
) -> dict[str, float]:
    """Verify an evaluation or inference proof. Raises ``ProofFormatError``, ``StatementMismatch`` or
    ``VerificationError`` (naming the failed check)."""
    t0 = time.perf_counter()
    st, est = pub.st, pub.est
    st.check_commitments()
    generators_needed(st)  # the training statement's parameters are usable and cannot wrap
    if st.generators_digest != params.digest.hex():
        raise StatementMismatch("the statement was made with other public parameters (generator digest differs)")
    if est.test_data == "training-split":
        check_test_split_opening(params, pub)
    run_verifier(lambda subgroup, channels: _verify_proof(params, pub, proof, subgroup, channel_factory, channels))
    return {"verify": time.perf_counter() - t0}


def _verify_proof(
    params: PublicParams,
    pub: EvalPublic,
    proof: bytes,
    subgroup: SubgroupChecks,
    channel_factory: Callable | None,
    channels: list,
) -> None:
    st, est = pub.st, pub.est
    cr = ContainerReader(proof, protocol_id=PROTOCOL_ID, layout=SECTIONS, subgroup=subgroup)
    zk = not cr.transparent
    readers = {s: cr.section(s) for s in SECTIONS}
    if readers["HEAD"].read_raw(64) != _head(st, est):
        raise StatementMismatch("the proof was made for a different training or evaluation statement")
    backend = make_range_backend(est.range_backend)
    t = _new_transcript(st, est, zk=zk, format_version=cr.format_version)
    ch = (channel_factory or ZkVerifierChannel)(t, readers, params) if zk else VerifierChannel(t, readers)
    channels.append(ch)
    coms: dict[str, Commitment] = {**st.commitments, **pub.data_commitments}
    for name, log_size in backend.committed_log_sizes(pub.layout).items():
        com = ch.commitment(f"commit/{name}")
        if com.layout != Layout.for_proof_table(1 << log_size):
            raise ProofFormatError(
                f"commitment to {name} is not in the layout of a proof's table of 2^{log_size} entries"
            )
        coms[name] = com
    reg, virt = ClaimRegistry(), ClaimRegistry()
    reg.extend(backend.verify(pub.layout, ch))
    for stage in stages_of(est):
        for instance in stage.instances(pub):  # type: ignore[arg-type]
            stage.verify(ch, pub, reg, virt, instance)
    if virt.names():
        raise VerificationError(f"internal: unreduced virtual claims {virt.names()}")
    l_claims = reg.pop("L")
    reg.extend(backend.verify_translate(pub.layout, l_claims, ch))
    for name in list(backend.committed_log_sizes(pub.layout)) + _opened_names(pub):
        claims = reg.pop(name)
        if not claims:
            raise VerificationError(f"internal: no claim on committed tensor {name}")
        com = coms[name]
        if any(len(c.point) != com.layout.num_vars for c in claims):
            raise VerificationError(f"claim on {name} at a point of the wrong length")
        try:
            ch.open(params, com, verify_reduction(claims, ch), what=f"opening of {name}")
        except VerificationError as exc:
            raise VerificationError(f"opening of {name}: {exc}") from None
    ch.finish()
    cr.finish()
