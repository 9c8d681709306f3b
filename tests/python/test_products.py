"""Products written by our CLI (`ami3 analyze`) pass the standards checks of check_products.py:
astropy verify + checksums, stdatamodels AmiLgModel / AmiOIModel / AmiLgFitModel, and the oifits
reader (shared/spec/ami3.md sections 2 and 5).

The CLI runs as `cargo run --release --bin ami3 -- analyze ...` from the repository root, or as
the binary named by AMI3_BIN. Shared data: ../shared/data/f480m-binary (AMI3_SHARED overrides
../shared). Also the whole pipeline (`ami3 run ... --save-averages`): every product it writes passes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import check_products as cp

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("AMI3_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data" / "f480m-binary"
CALINTS = DATA / "jw10005003001_03102_00001_nis_calints.fits"
THROUGHPUT = DATA / "throughput_f480m.fits"
NRM = DATA / "nrm.fits"
CLI_TIMEOUT_S = 3600

def ami3_command() -> list[str]:
    if os.environ.get("AMI3_BIN"):
        return [os.environ["AMI3_BIN"]]
    return ["cargo", "run", "--quiet", "--release", "--bin", "ami3", "--"]


@pytest.fixture(scope="module")
def analyze_output(tmp_path_factory) -> Path:
    """Run `ami3 analyze` once on the first science exposure; the folder it wrote into."""
    for needed in (CALINTS, THROUGHPUT, NRM):
        if not needed.exists():
            pytest.skip(f"shared test data missing: {needed}")
    out = tmp_path_factory.mktemp("analyze")
    cmd = ami3_command() + [
        "analyze",
        str(CALINTS),
        "--out",
        str(out),
        "--throughput",
        str(THROUGHPUT),
        "--nrm",
        str(NRM),
    ]
    proc = subprocess.run(
        cmd,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    said = (proc.stdout + proc.stderr).strip()
    written = sorted(out.glob("*.fits"))
    assert proc.returncode == 0, f"{' '.join(cmd)}\nexited {proc.returncode}:\n{said[-4000:]}"
    assert written, f"`ami3 analyze` exited 0 but wrote no *.fits into {out}:\n{said[-2000:]}"
    return out


def test_analyze_writes_an_amilg_and_an_oifits_product(analyze_output):
    kinds = {cp.product_kind(p) for p in analyze_output.glob("*.fits")}
    names = sorted(p.name for p in analyze_output.glob("*.fits"))
    assert cp.AMILG in kinds, f"no *_ami.fits (AmiLgModel) among {names}"
    assert cp.AMIOI in kinds, f"no *-oi.fits (OIFITS, on by default) among {names}"


def test_every_analyze_product_passes_the_standard_checks(analyze_output):
    reports = cp.check_dir(analyze_output)
    bad = [r for r in reports if not r.ok]
    assert not bad, "\n".join(r.format() for r in bad)


@pytest.fixture(scope="module")
def run_output(tmp_path_factory) -> Path:
    """Run `ami3 run` on the shared association with --save-averages; the folder it wrote into."""
    out = tmp_path_factory.mktemp("run")
    cmd = ami3_command() + [
        "run",
        str(DATA / "asn.json"),
        "--out",
        str(out),
        "--save-averages",
        "--throughput",
        str(THROUGHPUT),
        "--nrm",
        str(NRM),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert proc.returncode == 0, f"{' '.join(cmd)}\nexited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-4000:]}"
    assert "calibrated closure phases" in proc.stdout, proc.stdout
    return out


def test_run_writes_the_pipeline_products(run_output):
    names = sorted(p.name for p in run_output.glob("*.fits"))
    product = "jw10005-a3001_t001_niriss_f480m-nrm"
    for suffix in ("amiavg", "psf-amiavg", "aminorm", "aminorm-oi"):
        assert f"{product}_{suffix}.fits" in names, names
    assert sum(n.endswith("_a3001_ami.fits") for n in names) == 4, names
    assert sum(n.endswith("_a3001_ami-oi.fits") for n in names) == 2, names
    assert sum(n.endswith("_a3001_psf-ami-oi.fits") for n in names) == 2, names


def test_every_pipeline_product_passes_the_standard_checks(run_output):
    reports = cp.check_dir(run_output)
    assert len(reports) == 12
    bad = [r for r in reports if not r.ok]
    assert not bad, "\n".join(r.format() for r in bad)
