#!/usr/bin/env python3
"""Standards checks for ami3 product files (shared/spec/ami3.md sections 2 and 5).

Usable as a module (``check_file``, ``check_dir``) and as a command::

    .venv/bin/python tests/python/check_products.py DIR [DIR...] [--no-require-checksums] [-v]

For every ``*.fits``:

* astropy: ``fits.open(path, checksum=True)`` with every warning turned into an error, all HDUs
  and their data read, ``HDUList.verify('exception')``; CHECKSUM/DATASUM must be present in every
  HDU unless ``require_checksums=False`` (ami3.md section 5 asks for them);
* ``*_ami.fits``, ``*_amiavg.fits``, ``*_psf-amiavg.fits``, ``*_aminorm.fits``: open as
  ``stdatamodels.jwst.datamodels.AmiLgModel``, validate, and hold the extensions FIT, RESID,
  CLOSURE_AMP, CLOSURE_PHA, FRINGE_AMP, FRINGE_PHA, PUPIL_PHA, SOLNS (tables with a float64
  ``coeffs`` column);
* ``*-oi.fits``: open as ``AmiOIModel`` and validate; the third-party ``oifits`` package (0.6.1)
  loads it, ``isvalid()`` is true and it prints no "mismatch"/"ERROR" message;
* ``*_amilg.fits``: open as ``AmiLgFitModel`` and validate.

A file whose primary DATAMODL keyword names another model class fails. stdatamodels warnings
other than AmiLgModel's own DeprecationWarning count as problems.

Exit status of the command: 0 when every file passes, 1 when any fails, 2 when a directory
holds no ``*.fits``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

AMILG_SUFFIXES = ("_ami.fits", "_amiavg.fits", "_psf-amiavg.fits", "_aminorm.fits")
AMILG_IMAGES = ("FIT", "RESID")
AMILG_TABLES = ("CLOSURE_AMP", "CLOSURE_PHA", "FRINGE_AMP", "FRINGE_PHA", "PUPIL_PHA", "SOLNS")
AMILG_ATTRIBUTES = (
    "fit_image",
    "resid_image",
    "closure_amp_table",
    "closure_phase_table",
    "fringe_amp_table",
    "fringe_phase_table",
    "pupil_phase_table",
    "solns_table",
)
OI_TABLES = ("OI_ARRAY", "OI_TARGET", "OI_WAVELENGTH")
OI_DATA_TABLES = ("OI_VIS", "OI_VIS2", "OI_T3")
AMILGFIT_ATTRIBUTES = ("fit_image", "resid_image", "solns_table")

# Product kinds, by file name.
AMILG = "AmiLgModel"
AMIOI = "AmiOIModel"
AMILGFIT = "AmiLgFitModel"
PLAIN = "FITS"


@dataclass
class FileReport:
    """What the checks found in one file. ``problems`` fail the file; ``notes`` do not."""

    path: Path
    kind: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self, verbose: bool = False) -> str:
        head = f"{'OK  ' if self.ok else 'FAIL'} {self.path.name} [{self.kind}]"
        lines = [head] + [f"    problem: {p}" for p in self.problems]
        if verbose or not self.ok:
            lines += [f"    note: {n}" for n in self.notes]
        return "\n".join(lines)


def product_kind(path: Path | str) -> str:
    """The data model a product file must open as, from its name (ami3.md section 2-3)."""
    name = Path(path).name
    if name.endswith("-oi.fits"):
        return AMIOI
    if name.endswith("_amilg.fits"):
        return AMILGFIT
    if name.endswith(AMILG_SUFFIXES):
        return AMILG
    return PLAIN


def _exc(e: BaseException) -> str:
    text = str(e).strip().replace("\n", " ")
    return f"{type(e).__name__}: {text[:500]}"


def check_fits(path: Path, report: FileReport, require_checksums: bool = True) -> list[str]:
    """astropy checks; returns the HDU names (empty if the file did not open)."""
    from astropy.io import fits

    names: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with fits.open(path, checksum=True) as hdul:
                hdul.readall()
                unsummed = []
                for hdu in hdul:
                    names.append(hdu.name)
                    _ = hdu.data  # read (and decode) every data unit
                    if not all(k in hdu.header for k in ("CHECKSUM", "DATASUM")):
                        unsummed.append(hdu.name)
                hdul.verify("exception")
        if unsummed:
            msg = f"no CHECKSUM/DATASUM in {len(unsummed)} of {len(names)} HDUs ({', '.join(unsummed)})"
            (report.problems if require_checksums else report.notes).append(msg)
    except Exception as e:  # warnings are errors here, so a checksum mismatch lands here too
        report.problems.append(f"astropy: {_exc(e)}")
    return names


def _brief(message: object) -> str:
    """First paragraph of a (possibly pages long) schema validation message."""
    text = str(message).strip()
    marker = "the following error occurred:"
    if marker in text:
        text = text.split(marker, 1)[1].strip()
    first = text.split("\n\n", 1)[0]
    return " ".join(first.split())[:300]


def _open_model(path: Path, kind: str, report: FileReport):
    """Open with the stdatamodels class for ``kind`` and validate; returns the model or None."""
    from stdatamodels.jwst import datamodels

    cls = getattr(datamodels, kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = cls(str(path))
            model.validate()
        except Exception as e:
            report.problems.append(f"stdatamodels {kind}: {_exc(e)}")
            model = None
    for w in caught:
        if issubclass(w.category, DeprecationWarning) and "AmiLgModel is deprecated" in str(w.message):
            continue  # stdatamodels >= 5 deprecates AmiLgModel; the product contract still uses it
        report.problems.append(f"stdatamodels {kind} warning: {w.category.__name__}: {_brief(w.message)}")
    return model


def _check_datamodl(path: Path, kind: str, report: FileReport) -> None:
    from astropy.io import fits

    try:
        datamodl = fits.getval(path, "DATAMODL", ext=0)
    except KeyError:
        report.notes.append(f"no DATAMODL keyword (datamodels.open() would have to guess {kind})")
        return
    except Exception:
        return  # astropy already reported why the file does not open
    if datamodl != kind:
        report.problems.append(f"DATAMODL = {datamodl!r}, expected {kind!r}")


def check_amilg(path: Path, report: FileReport, hdu_names: list[str]) -> None:
    for ext in AMILG_IMAGES + AMILG_TABLES:
        if ext not in hdu_names:
            report.problems.append(f"missing extension {ext}")
    model = _open_model(path, AMILG, report)
    if model is None:
        return
    with model:
        for attr in AMILG_ATTRIBUTES:
            value = getattr(model, attr, None)
            if value is None:
                report.problems.append(f"AmiLgModel.{attr} is empty")
                continue
            if attr.endswith("_table"):
                names = value.dtype.names or ()
                if "coeffs" not in names:
                    report.problems.append(f"AmiLgModel.{attr} has no 'coeffs' column ({names})")
                elif value.dtype["coeffs"].kind != "f" or value.dtype["coeffs"].itemsize != 8:
                    report.problems.append(
                        f"AmiLgModel.{attr}.coeffs is {value.dtype['coeffs']}, expected float64"
                    )
            elif value.ndim != 2 or value.size == 0:
                report.problems.append(f"AmiLgModel.{attr} has shape {value.shape}, expected 2-D")


def check_oifits_package(path: Path, report: FileReport) -> None:
    """The third-party reader: loads, ``isvalid()`` true, no mismatch/ERROR printed.

    oifits 0.6.1 reports through print() (``*** N ERRORS:`` then one line per error, e.g.
    "Data size mismatch for visibility measurement ...") and returns isvalid() False."""
    import oifits

    out = io.StringIO()
    valid = False
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        try:
            data = oifits.open(str(path), quiet=True)
        except Exception as e:
            report.problems.append(f"oifits: cannot load: {_exc(e)}")
            return
        try:
            valid = bool(data.isvalid())
        except Exception as e:
            # oifits 0.6.1 itself raises UnboundLocalError in isvalid() when an OI_VIS2 or
            # OI_FLUX size mismatch occurs in a file without OI_VIS: still a mismatch.
            report.problems.append(f"oifits: isvalid() raised {_exc(e)} (a data size mismatch?)")
            return
    printed = [line.strip() for line in out.getvalue().splitlines() if line.strip()]
    flagged = [line for line in printed if "mismatch" in line.lower() or "error" in line.lower()]
    if not valid or flagged:
        verdict = "isvalid() is False" if not valid else "isvalid() is True but it printed errors"
        report.problems.append(f"oifits: {verdict}: {_summarize(printed)}")
    for w in caught:
        report.notes.append(f"oifits warning: {w.category.__name__}: {w.message}")


def _summarize(lines: list[str]) -> str:
    """Group oifits messages that differ only in the object ids they print (0x7f...)."""
    counts: dict[str, int] = {}
    for line in lines:
        if line.startswith("***"):
            continue
        key = re.sub(r" ?0x[0-9a-f]+", "", line)
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return "(no message)"
    return "; ".join(f"{n} x {msg}" if n > 1 else msg for msg, n in counts.items())


def check_oi(path: Path, report: FileReport, hdu_names: list[str]) -> None:
    for ext in OI_TABLES:
        if ext not in hdu_names:
            report.problems.append(f"missing OIFITS table {ext}")
    if not any(ext in hdu_names for ext in OI_DATA_TABLES):
        report.problems.append(f"no OIFITS data table (one of {', '.join(OI_DATA_TABLES)})")
    model = _open_model(path, AMIOI, report)
    if model is not None:
        with model:
            for attr in ("vis", "vis2", "t3"):
                if getattr(model, attr, None) is None:
                    report.notes.append(f"AmiOIModel.{attr} is empty")
    check_oifits_package(path, report)


def check_amilgfit(path: Path, report: FileReport) -> None:
    model = _open_model(path, AMILGFIT, report)
    if model is None:
        return
    with model:
        for attr in AMILGFIT_ATTRIBUTES:
            if getattr(model, attr, None) is None:
                report.problems.append(f"AmiLgFitModel.{attr} is empty")


def check_file(path: Path | str, require_checksums: bool = True) -> FileReport:
    """Run every check that applies to this file (by its name)."""
    path = Path(path)
    report = FileReport(path=path, kind=product_kind(path))
    hdu_names = check_fits(path, report, require_checksums=require_checksums)
    if not hdu_names:
        return report  # did not open: the model checks would only repeat that
    if report.kind != PLAIN:
        _check_datamodl(path, report.kind, report)
    if report.kind == AMILG:
        check_amilg(path, report, hdu_names)
    elif report.kind == AMIOI:
        check_oi(path, report, hdu_names)
    elif report.kind == AMILGFIT:
        check_amilgfit(path, report)
    return report


def check_dir(directory: Path | str, require_checksums: bool = True) -> list[FileReport]:
    """Check every ``*.fits`` directly inside ``directory`` (sorted by name)."""
    return [
        check_file(p, require_checksums=require_checksums)
        for p in sorted(Path(directory).glob("*.fits"))
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="directories of product files (or files)")
    parser.add_argument(
        "--no-require-checksums",
        action="store_true",
        help="do not fail files without CHECKSUM/DATASUM (jwst's own products have none)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="also print notes of passing files")
    args = parser.parse_args(argv)

    reports: list[FileReport] = []
    status = 0
    for d in args.dirs:
        if d.is_file():
            found = [check_file(d, require_checksums=not args.no_require_checksums)]
        else:
            found = check_dir(d, require_checksums=not args.no_require_checksums)
            if not found:
                print(f"{d}: no *.fits files", file=sys.stderr)
                status = 2
        reports += found
    for r in reports:
        print(r.format(verbose=args.verbose))
    bad = sum(not r.ok for r in reports)
    print(f"check_products: {len(reports) - bad} files ok, {bad} failed")
    if bad:
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
