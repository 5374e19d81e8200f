"""Where a per-example quantity concentrates: single predicates and pruned two-predicate
conjunctions (SliceLine's lattice to depth 2), each tested inside against outside.

    found = search(d, predicates, min_support=30)
    found.slices        # shown, best first (redundant children pruned)
    found.n_tested      # every slice tested, the count Benjamini-Hochberg adjusted over

`d` is additive per example (a paired correctness difference, a squared-error difference, or one
variant's errors), so a slice's sum over its rows is its part of the whole. Every candidate with
at least `min_support` rows inside and outside is tested and adjusted for, including the
children the display prunes: pruning looks at the data, so it must not shrink the count.

A child is shown only when it says more than its parents: a conjunction goes further than both
its predicates the same way (SliceLine's rule), and any slice lying inside a parent (a
conjunction inside each of its predicates, a single predicate inside another, as "negation in
one sentence only" lies inside "negation") has a mean clearly further than the rest of that
parent's: a one-sided Welch z at 0.05, Bonferroni over that parent's children, with at least
`min_support` rows left in the rest. A gap spread evenly over a subgroup is thus reported as the
subgroup, not as the pieces of it that chance made look strongest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..uncertainty import SMALL_N, adjust_bh, slice_tests
from .features import Predicate

MIN_SUPPORT = 30
CHILD_ALPHA = 0.05  # how clearly a child must differ from the rest of its parent to be shown


@dataclass(frozen=True)
class Slice:
    """One tested slice: its predicates (one or two) and its statistics."""

    parts: tuple[int, ...]  # indices into the predicates searched
    name: str
    definition: str
    n: int
    mean_in: float
    mean_out: float
    effect: float  # mean inside minus mean outside
    lo: float
    hi: float
    p: float
    p_adjusted: float
    total_in: float  # the sum of d over the slice's rows: its part of the whole
    small: bool  # n < SMALL_N: flagged as elsewhere in the app
    z: float = 0.0  # the standardised inside sum: breaks ties of p (a Monte Carlo p has a floor)


@dataclass
class Search:
    slices: list[Slice]  # shown, by adjusted p then |effect|
    n_tested: int
    n_single: int
    n_pairs: int
    n_pruned: int
    predicates: Sequence[Predicate]
    p_adjusted_all: np.ndarray  # every slice tested, shown or pruned

    def n_discoveries(self, alpha: float) -> int:
        """Slices at adjusted p < alpha among every slice tested, the pruned ones included."""
        return int((self.p_adjusted_all < alpha).sum())

    def mask(self, s: Slice) -> np.ndarray:
        """The rows of a slice (computed on demand: thousands of slices of 20,000 rows add up)."""
        mask = np.ones(len(self.predicates[0].mask), dtype=bool)
        for q in s.parts:
            mask &= self.predicates[q].mask
        return mask


def search(d: np.ndarray, predicates: Sequence[Predicate], min_support: int = MIN_SUPPORT, pairs: bool = True,
           ) -> Search:
    d = np.asarray(d, dtype=np.float64)
    m = len(d)
    x = np.stack([p.mask for p in predicates], axis=1) if predicates else np.zeros((m, 0), bool)
    support = x.sum(axis=0)
    ok = (support >= min_support) & (m - support >= min_support)
    singles = np.flatnonzero(ok)
    single_stats = slice_tests(d, x[:, singles])

    pair_index = np.zeros((0, 2), np.int64)
    pair_stats = None
    both = None  # rows in each conjunction of two singles, all at once
    if len(singles) > 1:
        xs = x[:, singles].astype(np.float32)
        both = xs.T @ xs
    if pairs and len(singles) > 1:
        i, j = np.triu_indices(len(singles), k=1)
        feature = np.array([predicates[k].feature for k in singles], dtype=object)
        n_ij = both[i, j]
        # a child equal to a parent is the same rows under a longer name: not a new slice
        keep = ((feature[i] != feature[j]) & (n_ij >= min_support) & (m - n_ij >= min_support)
                & (n_ij < support[singles][i]) & (n_ij < support[singles][j]))
        pair_index = np.stack([singles[i[keep]], singles[j[keep]]], axis=1)
        pair_stats = slice_tests(d, x[:, pair_index[:, 0]] & x[:, pair_index[:, 1]])

    p_all = np.concatenate([single_stats["p"], pair_stats["p"] if pair_stats else np.zeros(0)])
    adjusted = adjust_bh(p_all)
    n_single = len(singles)

    def make(parts: tuple[int, ...], st: dict, k: int, adj: float) -> Slice:
        names = [predicates[q].name for q in parts]
        definition = " and ".join(predicates[q].definition for q in parts)
        n = int(st["n"][k])
        return Slice(parts, " & ".join(names), definition, n, float(st["mean_in"][k]), float(st["mean_out"][k]),
                     float(st["effect"][k]), float(st["lo"][k]), float(st["hi"][k]), float(st["p"][k]), float(adj),
                     float(st["mean_in"][k] * n), n < SMALL_N, float(st["z"][k]))

    # the parent-child comparisons: each conjunction inside each of its predicates, and each single
    # predicate inside another that holds all its rows
    nested = np.zeros((0, 2), np.int64)  # (position in singles, parent predicate)
    if both is not None:
        a, b = np.nonzero((both == support[singles][:, None]) & (support[singles][:, None] < support[singles][None]))
        nested = np.stack([a, singles[b]], axis=1)
    n_children = np.bincount(np.concatenate([pair_index.ravel(), nested[:, 1]]).astype(np.int64),
                             minlength=x.shape[1])
    predicate_sums = np.zeros((3, x.shape[1]))  # every parent is one of the singles
    predicate_sums[:, singles] = _sums(single_stats)
    single_ok = np.ones(len(singles), dtype=bool)
    if len(nested):
        clear = _clearer_than_parent(_sums(single_stats)[:, nested[:, 0]], predicate_sums, nested[:, 1],
                                     np.sign(single_stats["effect"][nested[:, 0]]), n_children, min_support)
        np.logical_and.at(single_ok, nested[:, 0], clear)
    pair_ok = np.ones(len(pair_index), dtype=bool)
    if len(pair_index):
        child_sums = _sums(pair_stats)
        for side in (0, 1):
            pair_ok &= _clearer_than_parent(child_sums, predicate_sums, pair_index[:, side],
                                            np.sign(pair_stats["effect"]), n_children, min_support)

    out: list[Slice] = [make((int(q),), single_stats, k, adjusted[k]) for k, q in enumerate(singles) if single_ok[k]]
    pruned = int((~single_ok).sum())
    effect_of = {int(q): single_stats["effect"][k] for k, q in enumerate(singles)}
    for k, (q1, q2) in enumerate(pair_index):
        e = pair_stats["effect"][k]
        parents = (effect_of[int(q1)], effect_of[int(q2)])
        # SliceLine's rule: a child is kept only when it goes further than both parents, the same way
        if not pair_ok[k] or not all(np.sign(e) == np.sign(pe) and abs(e) > abs(pe) for pe in parents):
            pruned += 1
            continue
        out.append(make((int(q1), int(q2)), pair_stats, k, adjusted[n_single + k]))
    # many slices can share the smallest p a Monte Carlo test gives (1 / (R + 1)); among them the
    # strongest evidence (|z|) comes first, which favours a whole subgroup over a small child of it
    out.sort(key=lambda s: (s.p_adjusted, s.p, -abs(s.z), s.name))
    return Search(out, len(p_all), n_single, len(pair_index), pruned, predicates, adjusted)


def _sums(st: dict) -> np.ndarray:
    """(3, k) from `slice_tests`: each slice's row count, sum of d and sum of d squared."""
    return np.stack([np.asarray(st[key], dtype=np.float64) for key in ("n", "sum", "sum_sq")]).reshape(3, -1)


def _clearer_than_parent(child: np.ndarray, predicates: np.ndarray, parent: np.ndarray, direction: np.ndarray,
                         n_children: np.ndarray, min_support: int) -> np.ndarray:
    """(k,) bool, for k slices each inside the predicate `parent[k]` (`child`: their `_sums`;
    `predicates`: every predicate's, so the rest of a parent is its sums less the child's): the
    child's mean of `d` is further, in `direction[k]` (the sign of its effect), than the mean of
    the rest of the parent, by a one-sided Welch z beyond the Bonferroni bound for the parent's
    `n_children` comparisons; and at least `min_support` rows of the parent lie outside it (else
    it is nearly the parent itself)."""
    n_c, s_c, ss_c = child
    n_r, s_r, ss_r = predicates[:, parent] - child
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_c, mean_r = s_c / n_c, s_r / n_r
        var_c = np.maximum(ss_c / n_c - mean_c**2, 0) * n_c / np.maximum(n_c - 1, 1)
        var_r = np.maximum(ss_r / n_r - mean_r**2, 0) * n_r / np.maximum(n_r - 1, 1)
        se = np.sqrt(var_c / n_c + var_r / n_r)
        gap = direction * (mean_c - mean_r)
        z = np.where(se > 0, gap / np.where(se > 0, se, 1), np.where(gap > 0, np.inf, 0.0))
    return (n_r >= min_support) & (z > stats.norm.isf(CHILD_ALPHA / np.maximum(n_children[parent], 1)))
