"""RSA permutation null: 180 x 180 RDMs, 10,000 concept relabelings, Spearman.

Ours: :func:`core.analyses.rsa.stats.permutation_null` (ranks computed once). ``independent`` scheme (the
default, exact): a compiled numba kernel reads the relabelled pairs of the brain scores (few models) or
gathers them for one BLAS product with many models; ``product`` scheme: compositions of two sets of 100
permutations, one matrix product. Peer: a Python loop that relabels the brain RDM with rsatoolbox
(``RDMs.reorder``) and calls ``rsatoolbox.rdm.compare(..., method="spearman")`` once per permutation;
the loop is timed on the first 200 permutations and scaled to 10,000 (stated in the output). The
peer's values are checked against ours on those permutations, and the independent scheme's p-value
against a direct scipy loop (``spearmanr`` of each relabelled RDM) over all 10,000 permutations.
A second workload is one participant of the paper (3 ROIs x 66 model settings, e.g. 2 poolings x 33
layers), where the independent scheme is compared with the product scheme.

Run: ``.venv/bin/python benchmarks/rsa.py``; prints ``name: ours X s, peer Y s, ratio R`` and appends
to BENCHMARKS.md with a machine line.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from _common import append_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

N_CONCEPTS = 180
N_PERMUTATIONS = 10_000
PEER_SUBSET = 200


def _best(fn, repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out



def _reference_p(brain, model, perms) -> tuple[float, np.ndarray]:
    """Direct reference: scipy's spearmanr of every relabelled brain RDM with the model RDM."""
    from scipy import stats
    from scipy.spatial.distance import squareform

    sq = squareform(brain)
    null = np.array([stats.spearmanr(squareform(sq[np.ix_(p, p)], checks=False), model).statistic
                     for p in perms])
    observed = stats.spearmanr(brain, model).statistic
    return float((1 + np.sum(null >= observed)) / (1 + len(perms))), null


def main() -> None:
    import rsatoolbox

    from core.analyses.rsa.rdm import compare_many, compare_rdms, rdm
    from core.analyses.rsa.stats import make_concept_permutations, permutation_null, permutation_p

    rng = np.random.default_rng(0)
    latent = rng.standard_normal((N_CONCEPTS, 20))
    brain = rdm(latent @ rng.standard_normal((20, 300)) + 3 * rng.standard_normal((N_CONCEPTS, 300)))
    model = rdm(latent @ rng.standard_normal((20, 384)) + 3 * rng.standard_normal((N_CONCEPTS, 384)))

    def ours(scheme, b=brain[None], m=model[None]):
        perms = make_concept_permutations(N_CONCEPTS, N_PERMUTATIONS, seed=0, scheme=scheme)
        return perms, permutation_null(b, m, perms)

    for scheme in ("independent", "product"):  # warm-up (numba compiles or loads its cache)
        permutation_null(brain[None], model[None], make_concept_permutations(N_CONCEPTS, 100, 0, scheme))
    t_indep, (perms, null) = _best(lambda: ours("independent"))
    t_product, (_, null_p) = _best(lambda: ours("product"))
    null, null_p = null[0, :, 0], null_p[0, :, 0]

    brain_rdms = rsatoolbox.rdm.RDMs(brain[None])
    model_rdms = rsatoolbox.rdm.RDMs(model[None])

    def peer(subset_perms):
        out = []
        for perm in subset_perms:
            shuffled = brain_rdms.copy()
            shuffled.reorder(perm)
            out.append(rsatoolbox.rdm.compare(shuffled, model_rdms, method="spearman")[0, 0])
        return np.array(out)

    subset = perms.materialize(0, PEER_SUBSET)
    t_sub, peer_vals = _best(lambda: peer(subset), repeat=1)
    t_peer = t_sub * N_PERMUTATIONS / PEER_SUBSET
    diff = float(np.max(np.abs(peer_vals - null[:PEER_SUBSET])))
    observed = compare_rdms(brain, model)
    p = float(permutation_p(np.array([[observed]]), null[None, :, None])[0, 0])
    t_ref = time.perf_counter()
    p_ref, null_ref = _reference_p(brain, model, perms.materialize())
    t_ref = time.perf_counter() - t_ref

    # one participant of the paper: 3 ROIs x 66 settings (2 poolings x 33 layers)
    rois = np.stack([rdm(latent @ rng.standard_normal((20, 200)) + 3 * rng.standard_normal((N_CONCEPTS, 200)))
                     for _ in range(3)])
    layers = np.stack([rdm(latent @ rng.standard_normal((20, 64)) + s * rng.standard_normal((N_CONCEPTS, 64)))
                       for s in np.linspace(1, 8, 66)])
    t_many_i, (_, many_i) = _best(lambda: ours("independent", rois, layers), repeat=2)
    t_many_p, _ = _best(lambda: ours("product", rois, layers), repeat=2)
    p_many = permutation_p(compare_many(rois, layers), many_i)

    lines = [
        f"rsa permutation null 180x180, 10,000 perms, spearman (independent scheme, default): ours "
        f"{t_indep:.3f} s, peer rsatoolbox compare loop {t_peer:.1f} s (timed {t_sub:.2f} s on "
        f"{PEER_SUBSET} perms x {N_PERMUTATIONS // PEER_SUBSET}), ratio {t_peer / t_indep:.0f}",
        f"rsa permutation null 180x180, 10,000 perms, spearman (product scheme): ours {t_product:.3f} s, "
        f"peer rsatoolbox compare loop {t_peer:.1f} s, ratio {t_peer / t_product:.0f}",
        f"rsa permutation null 180x180, 10,000 perms, independent vs product scheme: ours {t_indep:.3f} s, "
        f"peer {t_product:.3f} s, ratio {t_product / t_indep:.2f}",
        f"rsa permutation null, one participant: 3 ROIs x 66 settings, 10,000 perms, independent vs product "
        f"scheme: ours {t_many_i:.2f} s, peer {t_many_p:.2f} s, ratio {t_many_p / t_many_i:.2f}",
    ]
    for line in lines:
        print(line)
    print(f"  check: max |ours - rsatoolbox| over {PEER_SUBSET} perms = {diff:.2e}; max |ours - scipy loop| "
          f"over {N_PERMUTATIONS} perms = {np.max(np.abs(null - null_ref)):.2e} (loop {t_ref:.1f} s); "
          f"observed rho = {observed:.4f}, p = {p:.5f}, direct reference p = {p_ref:.5f}, "
          f"{'equal' if p == p_ref else 'DIFFERENT'}; null sd independent {null.std():.5f}, "
          f"product {null_p.std():.5f}; participant workload min p = {np.nanmin(p_many):.5f}")
    append_results("rsa", lines)


if __name__ == "__main__":
    main()
