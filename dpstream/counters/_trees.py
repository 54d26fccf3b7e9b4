"""Tree-based counters: binary tree (DNPR10 / CSS11), online Honaker, smooth binary (Andersson-Pagh 2023), and the
hybrid mechanism for an unknown horizon (CSS11).

All noise is exact discrete noise on a lattice: inputs are rounded to multiples of ``granularity`` (a power of
two, default about (hi - lo)/1024; bits and integers are unaffected), every node sum is then an integer number of
lattice steps, and discrete Gaussian (zCDP) or discrete Laplace (pure DP) noise in lattice steps makes the
released node values exactly private (Canonne-Kamath-Steinke 2020), with no floating-point sampling.

Node bookkeeping.  A node at height h with index k covers steps k*2^h+1 .. (k+1)*2^h.  The prefix [1, t] is
the union of the nodes (h, (t >> h) - 1) over the set bits h of t (popcount(t) nodes); such a node always has an
even index, and only those nodes are released.  Every step lies in one node per height, so one item changes at
most L = floor(log2 T) + 1 released nodes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numba
import numpy as np

from ..accounting import Guarantee, zCDP
from ..base import InvalidParameter
from ..noise import DiscreteGaussian, DiscreteLaplace, make_rng
from ._core import LinearCounter, NoiseProcess, gaussian_tail, laplace_sum_tail, rowcumsum


def _default_granularity(width: float) -> float:
    return 2.0 ** (math.floor(math.log2(width)) - 10)


def _check_granularity(g: Any, width: float) -> float:
    if g is None:
        return _default_granularity(width)
    try:
        g = float(g)
    except (TypeError, ValueError):
        raise InvalidParameter(f"granularity must be a power of two such as 2**-10, got {g!r}") from None
    if not (g > 0 and math.isfinite(g)) or math.frexp(g)[0] != 0.5:
        raise InvalidParameter(f"granularity must be a positive power of two (e.g. 2**-10), got {g!r}")
    if g > width:
        raise InvalidParameter(f"granularity {g} is coarser than the input range {width}; use e.g. 2**-10")
    return g


def _check_sampler(sampler: str, privacy) -> str:
    if sampler not in ("exact", "float"):
        raise InvalidParameter(f"sampler must be 'exact' (default) or 'float', got {sampler!r}")
    if sampler == "float" and not isinstance(privacy, zCDP):
        raise InvalidParameter("sampler='float' is for Gaussian noise (zCDP) only; Laplace noise is always exact")
    return sampler


@numba.njit(cache=True)
def _gosper_run(first, n):
    """first and the next n-1 integers with the same popcount, in increasing order (Gosper's hack)."""
    out = np.empty(n, dtype=np.int64)
    x = first
    for i in range(n):
        out[i] = x
        c = x & -x
        r = x + c
        x = (((r ^ x) >> 2) // c) | r
    return out


def _popcount(a: np.ndarray) -> np.ndarray:
    return np.bitwise_count(a.astype(np.uint64)).astype(np.int64)


class _LatticeTreeProcess(NoiseProcess):
    """Common part: lattice, node noise calibration, block size, draws."""

    quantum: float  # always a lattice (set in __init__)
    _eps: float | None  # None for zCDP
    proxy_lat: float | None  # None for epsilon-DP

    def _nodes_per_item(self) -> int:
        """Number of released nodes a single item can change (the L1 / squared-L2 multiplicity)."""
        raise NotImplementedError

    def __init__(self, horizon, privacy, dim, bounds, granularity=None, block=None, sampler="exact"):
        super().__init__(horizon, privacy, dim, bounds)
        self.sampler = _check_sampler(sampler, privacy)
        self.dtype = np.int64  # node noise is always on the lattice (the float sampler is rounded to it)
        self.quantum = _check_granularity(granularity, self.width)
        lo, hi = bounds
        # randomized rounding keeps every item in [floor(lo / q), ceil(hi / q)]: the max change in lattice steps
        self.delta_lat = math.ceil(hi / self.quantum) - math.floor(lo / self.quantum)
        if block is None:
            block = 1 << max(8, (16384 // dim).bit_length() - 1)  # transient memory O(block * dim)
        if not isinstance(block, int) or block < 1 or block & (block - 1):
            raise InvalidParameter(f"block must be a power of two, got {block!r}")
        self.block = block
        self._setup()

    def _setup(self) -> None:
        m = self._nodes_per_item()
        if isinstance(self.privacy, zCDP):
            sens2 = self.dim * m * self.delta_lat**2  # squared L2 norm of one item's change over released nodes
            self.dist: DiscreteGaussian | DiscreteLaplace = DiscreteGaussian(sens2 / (2.0 * self.privacy.rho))
            self._rho = sens2 / (2.0 * float(self.dist.sigma2))
            self._eps = None
            self.proxy_lat = float(self.dist.sigma2)  # sub-Gaussian variance proxy of one node (lattice units^2)
        else:
            sens1 = self.dim * m * self.delta_lat
            self.dist = DiscreteLaplace(sens1 / self.privacy.epsilon)
            eps = sens1 / float(self.dist.scale)
            self._eps = eps
            self._rho = eps**2 / 2.0
            self.proxy_lat = None
        self.node_var = self._var(self.dist) * self.quantum**2  # variance of one node's noise, input units^2

    def _var(self, dist) -> float:
        # float sampler: a continuous Gaussian rounded to the lattice adds at most 1/12 (uniform rounding error)
        return float(dist.sigma2) + 1.0 / 12.0 if self.sampler == "float" else dist.variance

    def params(self) -> dict:
        return {"granularity": self.quantum, "block": self.block, "sampler": self.sampler}

    def public_grids(self) -> list[float]:
        """Every lattice spacing the mechanism uses (public)."""
        return [self.quantum]

    def _with_rounding(self, beta, upto, gauss_lat=None, float_nodes=0.0, lap=None) -> float:
        """Tail of |noise + item rounding| over all steps <= upto and coordinates.  The rounding error of the
        running sum is a sum of t independent mean-zero terms, each in an interval of length q (sub-Gaussian
        with proxy t q^2 / 4, Hoeffding), independent of the noise.  Gaussian: the proxies add.  Laplace: beta is
        split between the two.  sampler='float': the lattice rounding of each node's noise (at most q/2 per
        unit weight) is added deterministically."""
        q = self.quantum
        count = upto * self.dim
        rp = upto * q * q / 4.0
        if lap is None:
            return gaussian_tail(gauss_lat * q * q + rp, beta, count) + (
                float_nodes * q / 2.0 if self.sampler == "float" else 0.0
            )
        return laplace_sum_tail(lap, beta / 2.0, count) + gaussian_tail(rp, beta / 2.0, count)

    def _draw_from(self, dist, rng: np.random.Generator, count: int) -> np.ndarray:
        if self.zero or count == 0:
            return np.zeros((count, self.dim), dtype=self.dtype)
        if self.sampler == "float":  # rounded to the lattice: no residue below one lattice step carries data
            return np.rint(rng.standard_normal((count, self.dim)) * math.sqrt(float(dist.sigma2))).astype(np.int64)
        return dist.sample(rng, (count, self.dim))

    def _draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return self._draw_from(self.dist, rng, count)

    def guarantee(self) -> Guarantee:
        if self.sampler == "float":
            return Guarantee(
                rho=self._rho,
                mu=math.sqrt(2 * self._rho),
                notes=(
                    "sampler='float': node noise from numpy's floating-point Gaussian sampler rounded to the "
                    f"lattice of spacing {self.quantum}; the guarantee assumes that sampler is an exact Gaussian "
                    "(idealised; rounding is post-processing), opt-in for speed",
                    "adaptive: each node is released once with fresh noise",
                ),
            )
        kind = "discrete Gaussian" if self._eps is None else "discrete Laplace"
        return Guarantee(
            rho=self._rho,
            epsilon=self._eps,
            notes=(
                f"{kind} noise on every released tree node, exact on the lattice of spacing {self.quantum} "
                f"(inputs are rounded to it)",
                "adaptive: each node is released once with fresh noise; an item chosen from earlier answers "
                "changes at most the same nodes",
            ),
        )


def _tree_eta(labels, prev_label: int, nlevels: int, carry: list, draw, dim: int, dtype=np.int64) -> np.ndarray:
    """Sum over the set bits h of each label of the noise of node (h, (label >> h) - 1), in lattice units.

    ``labels`` must be increasing and follow ``prev_label`` (0 before the first step).  ``carry[h]`` is
    [index, values] of the last node drawn at height h (it is the node in use at ``prev_label`` when that label has
    bit h set) and is updated in place.  Computed as differences: between consecutive labels only the heights
    whose node changes contribute (about two per step), then a cumulative sum, so the work per step is O(dim)
    rather than O(dim log T).  One draw per call, used height 0 first, then 1, ...; within a height in time
    order.
    """
    n = labels.shape[0]
    lab = np.empty(n + 1, dtype=np.int64)
    lab[0] = prev_label
    lab[1:] = labels
    D = np.zeros((n, dim), dtype=dtype)
    base = np.zeros(dim, dtype=dtype)
    events = []
    for h in range(nlevels):
        s = lab >> h
        if s[0] & 1:
            base += np.asarray(carry[h][1], dtype=dtype)
        chg = np.flatnonzero(s[1:] != s[:-1])
        if chg.size == 0:
            continue
        on_rows = chg[(s[chg + 1] & 1) == 1]
        off_rows = chg[(s[chg] & 1) == 1]
        new_index = int(s[on_rows[-1] + 1]) - 1 if on_rows.size else None
        events.append((h, on_rows, off_rows, new_index))
    # one draw for the whole block, split by height in increasing order
    allvals = draw(sum(e[1].size for e in events))
    used = 0
    for h, on_rows, off_rows, new_index in events:
        c = carry[h]
        vals = allvals[used : used + on_rows.size]
        used += on_rows.size
        if on_rows.size:
            D[on_rows] += vals
        if off_rows.size:
            j = np.searchsorted(on_rows, off_rows, side="left") - 1
            prev = np.empty((off_rows.size, dim), dtype=dtype)
            from_carry = j < 0
            if from_carry.any():
                prev[from_carry] = np.asarray(c[1], dtype=dtype)
            prev[~from_carry] = vals[j[~from_carry]]
            D[off_rows] -= prev
        if on_rows.size:
            carry[h] = [new_index, vals[-1].tolist()]
    return rowcumsum(base, D)


class BinaryTreeProcess(_LatticeTreeProcess):
    name = "binary-tree"

    def __init__(self, horizon, privacy, dim, bounds, granularity=None, block=None, sampler="exact"):
        if horizon is None:
            raise InvalidParameter("binary-tree needs a horizon; use the 'hybrid' counter for an unknown one")
        self.levels = horizon.bit_length()  # L = floor(log2 T) + 1
        super().__init__(horizon, privacy, dim, bounds, granularity, block, sampler)

    def _nodes_per_item(self) -> int:
        return self.levels

    def init_carry(self):
        return [None] * self.levels

    def _labels(self, t0: int, n: int) -> np.ndarray:
        return np.arange(t0 + 1, t0 + n + 1, dtype=np.int64)

    def _prev_label(self, t0: int) -> int:
        return t0

    def generate(self, entropy, j, carry):
        rng = make_rng(entropy, j)
        t0 = j * self.block
        n = min(self.block, self.horizon - t0)
        carry = [None if c is None else list(c) for c in carry]
        labels = self._labels(t0, n)
        eta = _tree_eta(
            labels, self._prev_label(t0), self.levels, carry, lambda m: self._draw(rng, m), self.dim, self.dtype
        )
        return eta * self.quantum, carry

    def nodes_used(self, ts: np.ndarray) -> np.ndarray:
        return _popcount(np.asarray(ts, dtype=np.int64))

    def variances(self, ts):
        return self.nodes_used(ts) * self.node_var

    def tail_bound(self, beta, upto):
        m = upto.bit_length()
        kmax = m if upto == (1 << m) - 1 else m - 1  # largest popcount of t <= upto
        kmax = max(kmax, 1)
        if self._eps is None:
            return self._with_rounding(beta, upto, gauss_lat=kmax * self.proxy_lat, float_nodes=kmax)
        return self._with_rounding(beta, upto, lap=[(self.quantum, float(self.dist.scale), kmax)])

    def strategy(self, T):
        # rows of C: released nodes (h, k even) inside [1, T]; B selects the nodes of each prefix
        rows, index = [], {}
        for h in range(T.bit_length()):
            for k in range(0, T >> h, 2):
                index[(h, k)] = len(rows)
                r = np.zeros(T)
                r[k << h : (k + 1) << h] = 1
                rows.append(r)
        C = np.array(rows)
        B = np.zeros((T, len(rows)))
        for t in range(1, T + 1):
            for h in range(t.bit_length()):
                if (t >> h) & 1:
                    B[t - 1, index[(h, (t >> h) - 1)]] = 1
        return B, C


class SmoothBinaryProcess(BinaryTreeProcess):
    """Andersson & Pagh (NeurIPS 2023): leaves are the d_s-bit labels with exactly d_s/2 ones, in increasing order;
    the answer after step t is the prefix *before* the next used leaf, i.e. the left siblings along the path of
    label(t + 1): exactly d_s/2 nodes for every t, so the noise is identical at every step.  An item at a leaf lies
    in the released (left-child) nodes at the d_s/2 zero bits of its label."""

    name = "smooth-binary"

    def __init__(self, horizon, privacy, dim, bounds, granularity=None, block=None, sampler="exact"):
        if horizon is None:
            raise InvalidParameter("smooth-binary needs a horizon; use the 'hybrid' counter for an unknown one")
        ds = 2
        while math.comb(ds, ds // 2) <= horizon:
            ds += 2
        if ds > 62:
            raise InvalidParameter(f"horizon {horizon} too large for smooth-binary (needs depth {ds} > 62)")
        self.depth = ds
        self._binom = np.array([[math.comb(p, k) for k in range(ds + 1)] for p in range(ds + 1)], dtype=np.int64)
        _LatticeTreeProcess.__init__(self, horizon, privacy, dim, bounds, granularity, block, sampler)
        self.levels = ds

    def _nodes_per_item(self) -> int:
        """The largest number of *released* nodes that contain one item.  An item at leaf l lies in the left-child
        nodes (h, l >> h) at the d_s/2 zero bits h of l, but near the top of the tree the right sibling of such a
        node may lie beyond the last used label, so the node is never released: count exactly over the
        horizon (at T = 256: 5 of d_s/2 = 6), rather than calibrating for nodes that never reach anyone."""
        T = self.horizon
        assert T is not None  # __init__ rejects horizon=None
        half = self.depth // 2
        items = _gosper_run(int(self.leaf_labels(np.array([0]))[0]), T + 1)  # labels 0 .. T, increasing
        last = int(items[-1])  # the largest label any answer uses (answer t uses label(t), t <= T)
        items = items[:-1]  # item s sits at label(s - 1)
        count = np.zeros(T, dtype=np.int64)
        for h in range(self.depth):
            k = items >> h
            # node (h, k) (bit h of the label is 0) is released iff some used label has prefix k + 1 at height h;
            # the smallest label with that prefix is ((k + 1) << h) | (2^(half - popcount(k + 1)) - 1)
            pc = _popcount(k + 1)
            ok = ((k & 1) == 0) & (pc <= half) & (pc + h >= half)
            first = ((k + 1) << h) | ((np.int64(1) << np.clip(half - pc, 0, 62)) - 1)
            count += ok & (first <= last)
        return max(int(count.max()), 1)

    def init_carry(self):
        return [None] * self.depth

    def leaf_labels(self, idx: np.ndarray) -> np.ndarray:
        """The idx-th (0-based) d_s-bit number with exactly d_s/2 ones (combinatorial number system)."""
        idx = np.asarray(idx, dtype=np.int64).copy()
        krem = np.full(idx.shape, self.depth // 2, dtype=np.int64)
        out = np.zeros(idx.shape, dtype=np.int64)
        for p in range(self.depth - 1, -1, -1):
            c = self._binom[p][krem]  # labels with bit p = 0 put all remaining ones below p
            one = (idx >= c) & (krem > 0)
            out |= one.astype(np.int64) << p
            idx -= np.where(one, c, 0)
            krem -= one
        return out

    def _labels(self, t0, n):
        # label of the leaf after step t, for t = t0+1 .. t0+n: unrank the first, then step through the others
        first = int(self.leaf_labels(np.array([t0 + 1]))[0])
        return _gosper_run(first, n)

    def _prev_label(self, t0):
        return 0 if t0 == 0 else int(self.leaf_labels(np.array([t0]))[0])

    def nodes_used(self, ts):
        return np.full(np.shape(ts), self.depth // 2, dtype=np.int64)

    def tail_bound(self, beta, upto):
        k = self.depth // 2
        if self._eps is None:
            return self._with_rounding(beta, upto, gauss_lat=k * self.proxy_lat, float_nodes=k)
        return self._with_rounding(beta, upto, lap=[(self.quantum, float(self.dist.scale), k)])

    def strategy(self, T):
        labels = self.leaf_labels(np.arange(0, T + 1))
        leaf_of = {int(lab): i for i, lab in enumerate(labels[:T])}  # time step i+1 sits at leaf labels[i]
        rows, index = [], {}

        def node(h, k):
            if (h, k) not in index:
                r = np.zeros(T)
                for lab, i in leaf_of.items():
                    if (lab >> h) == k:
                        r[i] = 1
                index[(h, k)] = len(rows)
                rows.append(r)
            return index[(h, k)]

        used = []
        for t in range(1, T + 1):
            lab = int(labels[t])
            used.append([node(h, (lab >> h) - 1) for h in range(self.depth) if (lab >> h) & 1])
        C = np.array(rows)
        B = np.zeros((T, len(rows)))
        for t, us in enumerate(used):
            B[t, us] = 1
        return B, C


class HonakerProcess(BinaryTreeProcess):
    """Online Honaker estimator (the causal half of Honaker 2015, as in TF Privacy's EfficientTreeAggregator):
    every node is released with iid noise of variance s^2; the estimate of a node combines its own noisy value
    with the sum of its two children's estimates by inverse-variance weighting,
    e(h, k) = w_h n(h, k) + (1 - w_h) (e(h-1, 2k) + e(h-1, 2k+1)),  w_h = 2^h / (2^{h+1} - 1),
    so Var e(h, .) = V_h = s^2 2^h / (2^{h+1} - 1).  The prefix uses the estimates of the popcount(t) nodes.
    Post-processing of the released nodes: same privacy as the binary tree (all nodes are released here)."""

    name = "honaker"

    def __init__(self, horizon, privacy, dim, bounds, granularity=None, block=None, sampler="exact"):
        super().__init__(horizon, privacy, dim, bounds, granularity, block, sampler)
        h = np.arange(self.levels)
        self.w = 2.0**h / (2.0 ** (h + 1) - 1.0)
        self.vfac = self.w.copy()  # V_h / s^2

    def generate(self, entropy, j, carry):
        rng = make_rng(entropy, j)
        B = self.block
        t0 = j * B
        t1 = min(t0 + B, self.horizon)
        n = t1 - t0
        d = self.dim
        # nodes completing in this block, per height: indices lo..hi (lo = ceil((t0 + 1) / 2^h) - 1)
        spans = [(t0 >> h, (t1 >> h) - 1) for h in range(self.levels)]
        counts = [max(0, hi - lo + 1) for lo, hi in spans]
        allnoise = self._draw(rng, sum(counts)).astype(np.float64) * self.quantum  # one draw, height by height
        est = []
        used = 0
        for h in range(self.levels):
            lo, hi = spans[h]
            cnt = counts[h]
            noisy = allnoise[used : used + cnt]
            used += cnt
            if h == 0 or cnt == 0:
                e = noisy
            else:
                plo, parr = est[h - 1]
                c = carry[h - 1]
                prev = np.zeros((1, d)) if c is None else np.asarray(c[1], dtype=np.float64).reshape(1, d)
                ext = np.concatenate((prev, parr))
                ks = np.arange(lo, hi + 1)
                left = ext[2 * ks - (plo - 1)]
                right = ext[2 * ks + 1 - (plo - 1)]
                e = self.w[h] * noisy + (1.0 - self.w[h]) * (left + right)
            est.append((lo, e))
        # eta_t = sum over set bits h of t of e(h, (t >> h) - 1), computed by differences between steps
        ts = np.arange(t0, t1 + 1, dtype=np.int64)
        D = np.zeros((n, d))
        base = np.zeros(d)
        newcarry = []
        for h in range(self.levels):
            lo, e = est[h]
            c = carry[h]
            prev = np.zeros((1, d)) if c is None else np.asarray(c[1], dtype=np.float64).reshape(1, d)
            ext = np.concatenate((prev, e))  # node index k is ext[k - (lo - 1)]
            s = ts >> h
            if s[0] & 1:
                base += ext[0]  # the node in use at t0 is the last one completed before the block
            chg = np.flatnonzero(s[1:] != s[:-1])
            if chg.size:
                on = chg[(s[chg + 1] & 1) == 1]
                off = chg[(s[chg] & 1) == 1]
                if on.size:
                    D[on] += ext[s[on + 1] - lo]
                if off.size:
                    D[off] -= ext[s[off] - lo]
            newcarry.append([lo + e.shape[0] - 1, e[-1].tolist()] if e.shape[0] else c)
        return rowcumsum(base, D), newcarry

    def variances(self, ts):
        ts = np.asarray(ts, dtype=np.int64)
        v = np.zeros(ts.shape)
        for h in range(self.levels):
            v += ((ts >> h) & 1) * self.vfac[h]
        return v * self.node_var

    def tail_bound(self, beta, upto):
        L = upto.bit_length()
        if self._eps is None:
            a = 0.0  # total absolute weight of node noises in e(h): a_h = w_h + (1 - w_h) 2 a_(h-1)
            tot = 0.0
            for h in range(L):
                a = self.w[h] + (1.0 - self.w[h]) * 2.0 * a
                tot += a
            return self._with_rounding(
                beta, upto, gauss_lat=float(self.vfac[:L].sum()) * self.proxy_lat, float_nodes=tot
            )
        comps = []
        for h in range(L):  # e(h) = sum over depth g below of 2^g nodes with weight w_{h-g} prod (1 - w)
            coef = 1.0
            for g in range(h + 1):
                comps.append((self.quantum * coef * self.w[h - g], float(self.dist.scale), 2**g))
                coef *= 1.0 - self.w[h - g]
        return self._with_rounding(beta, upto, lap=comps)

    def strategy(self, T):
        rows, index = [], {}
        for h in range(T.bit_length()):
            for k in range(T >> h):
                index[(h, k)] = len(rows)
                r = np.zeros(T)
                r[k << h : (k + 1) << h] = 1
                rows.append(r)
        C = np.array(rows)

        def est(h, k):  # coefficients of e(h, k) over the released nodes
            v = np.zeros(len(rows))
            v[index[(h, k)]] = self.w[h]
            if h > 0:
                v += (1 - self.w[h]) * (est(h - 1, 2 * k) + est(h - 1, 2 * k + 1))
            return v

        B = np.zeros((T, len(rows)))
        for t in range(1, T + 1):
            for h in range(t.bit_length()):
                if (t >> h) & 1:
                    B[t - 1] += est(h, (t >> h) - 1)
        return B, C


class HybridProcess(_LatticeTreeProcess):
    """Chan-Shi-Song hybrid mechanism for an unknown horizon.

    Half the budget goes to the *logarithmic mechanism*: the block sums of [1, 1] and [2^(k-1)+1, 2^k] (k >= 1)
    are released with noise (each item is in one block: sensitivity 1) and their running total is the answer at
    t = 2^k.  The other half runs a fresh binary tree over each segment (2^k, 2^(k+1)) (k levels), so for
    2^k < t < 2^(k+1) the answer is (noisy prefix up to 2^k) + (tree prefix of the items 2^k+1..t).  Each item is
    in one block and one tree: rho/2 + rho/2 (or epsilon/2 + epsilon/2)."""

    name = "hybrid"
    MAXK = 40

    def __init__(self, horizon, privacy, dim, bounds, granularity=None, block=None, sampler="exact"):
        half = privacy.scaled(0.5)
        self._half = half
        super().__init__(horizon, half, dim, bounds, granularity, block, sampler)
        self.privacy = privacy

    def _nodes_per_item(self) -> int:
        return 1

    def _setup(self) -> None:
        # distributions: index 0 = log-mechanism blocks (1 node per item), k >= 1 = tree over segment k (k levels)
        self.dists: dict[int, DiscreteGaussian | DiscreteLaplace] = {}
        self.proxies: dict[int, float] = {}
        losses: list[float] = []  # privacy loss of one item on the tree over segment m, per m
        for m in range(1, self.MAXK + 1):
            dist: DiscreteGaussian | DiscreteLaplace
            if isinstance(self._half, zCDP):
                dist = DiscreteGaussian(self.dim * m * self.delta_lat**2 / (2.0 * self._half.rho))
                self.proxies[m] = float(dist.sigma2)
                losses.append(self.dim * m * self.delta_lat**2 / (2.0 * float(dist.sigma2)))
            else:
                dist = DiscreteLaplace(self.dim * m * self.delta_lat / self._half.epsilon)
                losses.append(self.dim * m * self.delta_lat / float(dist.scale))
            self.dists[m] = dist
        worst = max(losses)
        if isinstance(self._half, zCDP):
            self._rho, self._eps = 2 * worst, None
        else:
            eps = 2 * worst
            self._eps = eps
            self._rho = eps**2 / 2
        self.dist = self.dists[1]
        self.node_var = self._var(self.dist) * self.quantum**2

    def init_carry(self):
        # [log prefix (lattice ints, list), current segment k, tree carry of that segment]
        return [[0] * self.dim, 0, None]

    def generate(self, entropy, j, carry):
        rng = make_rng(entropy, j)
        B = self.block
        t0 = j * B
        n = B
        logsum = np.asarray(carry[0], dtype=self.dtype)
        seg = carry[1]
        tcarry = None if carry[2] is None else [None if c is None else list(c) for c in carry[2]]  # no aliasing
        ts = np.arange(t0 + 1, t0 + n + 1, dtype=np.int64)
        eta = np.zeros((n, self.dim), dtype=self.dtype)
        pos = 0
        while pos < n:
            t = int(ts[pos])
            if t & (t - 1) == 0:  # power of two: a log-mechanism block completes, the answer is its prefix
                k = t.bit_length() - 1
                logsum = logsum + self._draw_from(self.dists[1], rng, 1)[0]
                eta[pos] = logsum
                seg, tcarry = k, None
                pos += 1
                continue
            # inside segment (2^seg, 2^(seg+1)): tree with `seg` levels over labels t - 2^seg
            end = min(n, pos + ((1 << (seg + 1)) - t))  # steps before the next power of two
            labels = ts[pos:end] - (1 << seg)
            if tcarry is None:
                tcarry = [None] * seg
            dist = self.dists[seg]

            def draw(m, dist=dist):
                return self._draw_from(dist, rng, m)

            prev = int(ts[pos]) - 1 - (1 << seg)  # 0 at the start of the segment
            eta[pos:end] = logsum + _tree_eta(labels, prev, seg, tcarry, draw, self.dim, self.dtype)
            pos = end
        return eta * self.quantum, [logsum.tolist(), seg, tcarry]

    def variances(self, ts):
        ts = np.asarray(ts, dtype=np.int64)
        out = np.zeros(ts.shape)
        q2 = self.quantum**2
        v1 = self._var(self.dists[1]) * q2
        for i, t in enumerate(ts.tolist()):
            k = t.bit_length() - 1
            v = (k + 1) * v1  # log blocks [1,1], (1,2], ..., (2^(k-1), 2^k]
            r = t - (1 << k)
            if r:
                v += bin(r).count("1") * self._var(self.dists[k]) * q2
            out[i] = v
        return out

    def strategy(self, T):
        """Dense (B, C) for the first T steps; rows of C: log blocks, then the released nodes of each segment
        tree.  ``row_var`` (set here) is the noise variance of every row, in input units."""
        rows, var, dists, index = [], [], [], {}
        q2 = self.quantum**2

        def add(key, lo, hi, dist):  # a row covering steps lo..hi (1-based, inclusive)
            r = np.zeros(T)
            r[lo - 1 : min(hi, T)] = 1
            index[key] = len(rows)
            rows.append(r)
            var.append(self._var(dist) * q2)
            dists.append(dist)

        K = T.bit_length()
        add(("log", 0), 1, 1, self.dists[1])
        for k in range(1, K):
            add(("log", k), (1 << (k - 1)) + 1, 1 << k, self.dists[1])
        for seg in range(1, K):
            start = 1 << seg
            for h in range(seg):
                for k in range(0, ((1 << seg) - 1) >> h, 2):
                    if start + (k << h) + 1 <= T:
                        add(("tree", seg, h, k), start + (k << h) + 1, start + ((k + 1) << h), self.dists[seg])
        C = np.array(rows)
        B = np.zeros((T, len(rows)))
        for t in range(1, T + 1):
            k = t.bit_length() - 1
            for j in range(k + 1):
                B[t - 1, index[("log", j)]] = 1
            r = t - (1 << k)
            for h in range(k):
                if (r >> h) & 1:
                    B[t - 1, index[("tree", k, h, (r >> h) - 1)]] = 1
        self.row_var = np.array(var)
        self.row_dists = dists
        return B, C

    def tail_bound(self, beta, upto):
        K = upto.bit_length()
        q = self.quantum
        # the worst step sums K log blocks and at most K - 1 tree nodes of segment K - 1
        if self._eps is None:
            v = K * self.proxies[1] + (K - 1) * self.proxies.get(max(K - 1, 1), 0.0)
            return self._with_rounding(beta, upto, gauss_lat=v, float_nodes=2 * K - 1)
        comps = [(q, float(self.dists[1].scale), K)]
        if K > 1:
            comps.append((q, float(self.dists[K - 1].scale), K - 1))
        return self._with_rounding(beta, upto, lap=comps)

    def guarantee(self) -> Guarantee:
        g = super().guarantee()
        return dataclasses.replace(g, notes=(*g.notes, "unknown horizon: valid for every stream length up to 2**40"))


class BinaryTree(LinearCounter):
    name = "binary-tree"
    process_cls = BinaryTreeProcess


class Honaker(LinearCounter):
    name = "honaker"
    process_cls = HonakerProcess


class SmoothBinary(LinearCounter):
    name = "smooth-binary"
    process_cls = SmoothBinaryProcess


class Hybrid(LinearCounter):
    name = "hybrid"
    process_cls = HybridProcess
