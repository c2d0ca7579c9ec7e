"""RSA permutation null: 180 x 180 RDMs, 10,000 concept relabelings, Spearman.

Ours: :func:`core.analyses.rsa_stats.permutation_null` (ranks computed once; ``product`` scheme = one
matrix product; ``independent`` scheme = index gathers + matrix product). Peer: a Python loop that
relabels the brain RDM with rsatoolbox (``RDMs.reorder``) and calls ``rsatoolbox.rdm.compare(...,
method="spearman")`` once per permutation; the loop is timed on the first 200 permutations and scaled
to 10,000 (stated in the output). The peer's values are checked against ours on those permutations.

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



def main() -> None:
    import rsatoolbox

    from core.analyses.rsa import compare_rdms, rdm
    from core.analyses.rsa_stats import make_concept_permutations, permutation_null

    rng = np.random.default_rng(0)
    latent = rng.standard_normal((N_CONCEPTS, 20))
    brain = rdm(latent @ rng.standard_normal((20, 300)) + 3 * rng.standard_normal((N_CONCEPTS, 300)))
    model = rdm(latent @ rng.standard_normal((20, 384)) + 3 * rng.standard_normal((N_CONCEPTS, 384)))

    def ours(scheme):
        perms = make_concept_permutations(N_CONCEPTS, N_PERMUTATIONS, seed=0, scheme=scheme)
        return perms, permutation_null(brain[None], model[None], perms)[0, :, 0]

    permutation_null(brain[None], model[None], make_concept_permutations(N_CONCEPTS, 100, 0))  # warm-up
    t_product, (perms, null) = _best(lambda: ours("product"))
    t_indep, (perms_i, null_i) = _best(lambda: ours("independent"))

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
    p = (1 + np.sum(null >= observed)) / (1 + N_PERMUTATIONS)
    lines = [
        f"rsa permutation null 180x180, 10,000 perms, spearman (product scheme): ours {t_product:.3f} s, "
        f"peer rsatoolbox compare loop {t_peer:.1f} s (timed {t_sub:.2f} s on {PEER_SUBSET} perms x "
        f"{N_PERMUTATIONS // PEER_SUBSET}), ratio {t_peer / t_product:.0f}",
        f"rsa permutation null 180x180, 10,000 perms, spearman (independent scheme): ours {t_indep:.3f} s, "
        f"peer rsatoolbox compare loop {t_peer:.1f} s, ratio {t_peer / t_indep:.0f}",
    ]
    for line in lines:
        print(line)
    print(f"  check: max |ours - rsatoolbox| over {PEER_SUBSET} perms = {diff:.2e}; observed rho = "
          f"{observed:.4f}, p = {p:.4f}; null sd product {null.std():.5f}, independent {null_i.std():.5f}")
    append_results("rsa", lines)


if __name__ == "__main__":
    main()
