#!/usr/bin/env python3
"""Check FITS files the way astropy does: every file must open with checksum=True, pass
HDUList.verify('exception'), and raise no warning (warnings are errors). This is the independent
oracle for src/fits/write.rs (CHECKSUM/DATASUM, card syntax, table and image layout).

Usage: verify_fits.py FILE [FILE ...]    exit status 0 if all pass, 1 otherwise.
"""

import sys
import warnings


def problems_with(path):
    """Every exception and warning astropy raises while opening, verifying and decoding `path`."""
    from astropy.io import fits

    problems = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fits.open(path, checksum=True) as hdul:
                hdul.verify("exception")
                for hdu in hdul:
                    # Touch the data so astropy decodes every image and table column.
                    data = hdu.data
                    if data is not None and hasattr(data, "columns"):
                        for name in data.columns.names:
                            data[name]
                    # checksum=True only checks sums that are present: require both cards.
                    for key in ("CHECKSUM", "DATASUM"):
                        if key not in hdu.header:
                            problems.append(f"HDU {hdu.name}: no {key} card")
        except Exception as exc:
            problems.append(f"{type(exc).__name__}: {exc}")
    problems += [f"{w.category.__name__}: {w.message}" for w in caught]
    return [" ".join(p.split()) for p in problems]


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        problems = problems_with(path)
        if problems:
            failed += 1
            print(f"FAIL  {path}")
            for problem in problems:
                print(f"      {problem}")
        else:
            print(f"ok    {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
