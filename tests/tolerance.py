"""One float32 tolerance for comparing results computed along different paths.

float32 sums and products computed with different BLAS blockings (other CPUs, other column subsets,
batched vs one-by-one) agree to a few units in the last place of float32 (eps = 1.2e-7), which after a
Pearson correlation or a ridge solve amounts to relative differences of about 1e-6. numpy's default
``rtol=1e-7`` therefore holds only on the machine a test was written on; ``F32`` (relative 1e-5, absolute
1e-6 for values near 0) holds on any x86-64 CPU and still catches every real error (a wrong item, fold
or alpha changes r in the second or third digit).
"""

from __future__ import annotations

import numpy as np

F32 = {"rtol": 1e-5, "atol": 1e-6}


def assert_f32_close(actual, desired, err_msg: str = "") -> None:
    """``np.testing.assert_allclose`` with the float32 tolerance :data:`F32` (NaNs must match)."""
    np.testing.assert_allclose(actual, desired, err_msg=err_msg, **F32)


#: Pearson r of float32 ridge predictions computed over different sets of targets in one call (chunks,
#: participants scored together or apart): the GEMMs block differently, and a fit at a small alpha (an
#: ill-conditioned solve) amplifies the rounding to about 1e-6 absolute in r (measured 1.6e-6 at r = 0.06);
#: a wrong item, fold or alpha still changes r in the second or third digit
R_F32 = {"rtol": 1e-5, "atol": 1e-5}
