"""Times jwst 3.0.0's ami_analyze core on one shared exposure, for BENCHMARKS.md, side by side
with ours (same machine, same moment). Not part of npm test: needs a Python with jwst 3.0.0.

Usage: python scripts/bench_jwst.py ../shared/data/f480m-binary [repeats]

It calls jwst.ami.ami_analyze.apply_lg_plus (what AmiAnalyzeStep runs, without CRDS lookups or
file writing) with the step's defaults and the shared THROUGHPUT and NRM files.
"""

import sys
import time
from pathlib import Path

import numpy as np
from jwst.ami import utils
from jwst.ami.ami_analyze import apply_lg_plus
from stdatamodels.jwst import datamodels

data = Path(sys.argv[1])
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 1
throughput = datamodels.ThroughputModel(str(data / "throughput_f480m.fits"))
nrm = datamodels.NRMModel(str(data / "nrm.fits"))
affine = utils.Affine2d(mx=0.992820, my=0.998540, sx=0.00618605, sy=-0.00727008, xo=0.0, yo=0.0, name="commissioning")
best = float("inf")
for _ in range(repeats):
    model = datamodels.CubeModel(str(data / "jw10005003001_03102_00001_nis_calints.fits"))
    t0 = time.perf_counter()
    apply_lg_plus(model, throughput, nrm, 3, np.array([0.0, 0.0]), np.array([-3.0, 3.0, 1.0]),
                  None, True, None, None, affine, True)
    best = min(best, time.perf_counter() - t0)
print(f"jwst 3.0.0 apply_lg_plus: {best:.3f} s for 5 integrations, {best / 5:.3f} s per integration")
