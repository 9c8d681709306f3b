"""The product checker itself (check_products.py) on small files written here with astropy:
it must pass a conformant file and catch each defect it claims to catch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

import check_products as cp

AMILG_TABLE_ROWS = {
    "CLOSURE_AMP": 35,
    "CLOSURE_PHA": 35,
    "FRINGE_AMP": 21,
    "FRINGE_PHA": 21,
    "PUPIL_PHA": 7,
    "SOLNS": 44,
}


def amilg_hdul(datamodl: str = "AmiLgModel", skip: str | None = None) -> fits.HDUList:
    primary = fits.PrimaryHDU()
    primary.header["DATAMODL"] = datamodl
    primary.header["TELESCOP"] = "JWST"
    hdus = [
        primary,
        fits.ImageHDU(np.ones((69, 69), np.float32), name="FIT"),
        fits.ImageHDU(np.zeros((69, 69), np.float32), name="RESID"),
    ]
    for name, rows in AMILG_TABLE_ROWS.items():
        col = fits.Column(name="coeffs", format="D", array=np.linspace(0.0, 1.0, rows))
        hdus.append(fits.BinTableHDU.from_columns([col], name=name))
    return fits.HDUList([h for h in hdus if h.name != skip])


def _table(name: str, columns: list[fits.Column], **keywords) -> fits.BinTableHDU:
    hdu = fits.BinTableHDU.from_columns(columns, name=name)
    for key, value in keywords.items():
        hdu.header[key.replace("_OBS", "-OBS")] = value
    return hdu


def oifits_hdul(nwave: int = 1, vector: int | None = None) -> fits.HDUList:
    """A small OIFITS2 file (7 holes, 21 baselines) that AmiOIModel and oifits accept.
    ``vector`` != nwave writes data vectors of another length (the defect of jwst's
    _amimulti-oi)."""
    vector = nwave if vector is None else vector
    primary = fits.PrimaryHDU()
    for key, value in {
        "DATAMODL": "AmiOIModel",
        "TELESCOP": "JWST",
        "INSTRUME": "NIRISS",
        "ORIGIN": "ami3 tests",
        "DATE-OBS": "2026-01-01T00:00:00",
        "PI_NAME": "test",
        "TARGPROP": "star",
        "OBSERVER": "test",
        "OBJECT": "star",
        "INSMODE": "NRM",
        "CONTENT": "OIFITS2",
    }.items():
        primary.header[key] = value
    holes = [f"A{i}" for i in range(1, 8)]
    array = _table(
        "OI_ARRAY",
        [
            fits.Column(name="TEL_NAME", format="16A", array=holes),
            fits.Column(name="STA_NAME", format="16A", array=holes),
            fits.Column(name="STA_INDEX", format="1I", array=np.arange(1, 8)),
            fits.Column(name="DIAMETER", format="1E", unit="m", array=np.full(7, 0.8)),
            fits.Column(name="STAXYZ", format="3D", unit="m", array=np.zeros((7, 3))),
            fits.Column(name="FOV", format="1D", unit="arcsec", array=np.ones(7)),
            fits.Column(name="FOVTYPE", format="6A", array=["RADIUS"] * 7),
            fits.Column(name="CTRS_EQT", format="2D", unit="m", array=np.zeros((7, 2))),
        ],
        OI_REVN=2,
        ARRNAME="mask",
        FRAME="SKY",
        ARRAYX=0.0,
        ARRAYY=0.0,
        ARRAYZ=0.0,
    )
    zero = [0.0]
    target = _table(
        "OI_TARGET",
        [
            fits.Column(name="TARGET_ID", format="1I", array=[1]),
            fits.Column(name="TARGET", format="32A", array=["star"]),
            fits.Column(name="RAEP0", format="D", unit="deg", array=[150.0]),
            fits.Column(name="DECEP0", format="D", unit="deg", array=[-30.0]),
            fits.Column(name="EQUINOX", format="E", unit="yr", array=[2000.0]),
            fits.Column(name="RA_ERR", format="D", unit="deg", array=zero),
            fits.Column(name="DEC_ERR", format="D", unit="deg", array=zero),
            fits.Column(name="SYSVEL", format="D", unit="m/s", array=zero),
            fits.Column(name="VELTYP", format="8A", array=["UNKNOWN"]),
            fits.Column(name="VELDEF", format="8A", array=["OPTICAL"]),
            fits.Column(name="PMRA", format="D", unit="deg/yr", array=zero),
            fits.Column(name="PMDEC", format="D", unit="deg/yr", array=zero),
            fits.Column(name="PMRA_ERR", format="D", unit="deg/yr", array=zero),
            fits.Column(name="PMDEC_ERR", format="D", unit="deg/yr", array=zero),
            fits.Column(name="PARALLAX", format="E", unit="deg", array=zero),
            fits.Column(name="PARA_ERR", format="E", unit="deg", array=zero),
            fits.Column(name="SPECTYP", format="32A", array=["UNKNOWN"]),
        ],
        OI_REVN=2,
    )
    wavelength = _table(
        "OI_WAVELENGTH",
        [
            fits.Column(name="EFF_WAVE", format="E", unit="m", array=np.linspace(4.8e-6, 4.9e-6, nwave)),
            fits.Column(name="EFF_BAND", format="E", unit="m", array=np.full(nwave, 3e-7)),
        ],
        OI_REVN=2,
        INSNAME="NIRISS",
    )
    pairs = [(i, j) for i in range(1, 8) for j in range(i + 1, 8)]
    n = len(pairs)
    common = [
        fits.Column(name="TARGET_ID", format="1I", array=np.ones(n)),
        fits.Column(name="TIME", format="1D", unit="s", array=np.zeros(n)),
        fits.Column(name="MJD", format="1D", unit="day", array=np.full(n, 60400.5)),
        fits.Column(name="INT_TIME", format="1D", unit="s", array=np.ones(n)),
    ]
    uv_sta = [
        fits.Column(name="UCOORD", format="1D", unit="m", array=np.linspace(-3, 3, n)),
        fits.Column(name="VCOORD", format="1D", unit="m", array=np.linspace(3, -3, n)),
        fits.Column(name="STA_INDEX", format="2I", array=np.array(pairs)),
        fits.Column(name="FLAG", format=f"{vector}L", array=np.zeros((n, vector), bool)),
    ]
    table_keys = {"OI_REVN": 2, "DATE_OBS": "2026-01-01", "ARRNAME": "mask", "INSNAME": "NIRISS"}
    vis = _table(
        "OI_VIS",
        common
        + [
            fits.Column(name="VISAMP", format=f"{vector}D", array=np.full((n, vector), 0.9)),
            fits.Column(name="VISAMPERR", format=f"{vector}D", array=np.full((n, vector), 0.01)),
            fits.Column(name="VISPHI", format=f"{vector}D", unit="deg", array=np.zeros((n, vector))),
            fits.Column(name="VISPHIERR", format=f"{vector}D", unit="deg", array=np.ones((n, vector))),
        ]
        + uv_sta,
        **table_keys,
    )
    vis2 = _table(
        "OI_VIS2",
        common
        + [
            fits.Column(name="VIS2DATA", format=f"{vector}D", array=np.full((n, vector), 0.81)),
            fits.Column(name="VIS2ERR", format=f"{vector}D", array=np.full((n, vector), 0.02)),
        ]
        + uv_sta,
        **table_keys,
    )
    return fits.HDUList([primary, array, target, wavelength, vis, vis2])


def write(hdul: fits.HDUList, path: Path, checksum: bool = True) -> Path:
    hdul.writeto(path, checksum=checksum)
    return path


def test_product_kind_follows_the_file_name():
    assert cp.product_kind("x_a3001_ami.fits") == cp.AMILG
    assert cp.product_kind("p_amiavg.fits") == cp.AMILG
    assert cp.product_kind("p_psf-amiavg.fits") == cp.AMILG
    assert cp.product_kind("p_aminorm.fits") == cp.AMILG
    assert cp.product_kind("x_a3001_ami-oi.fits") == cp.AMIOI
    assert cp.product_kind("x_amimulti-oi.fits") == cp.AMIOI
    assert cp.product_kind("p_aminorm-oi.fits") == cp.AMIOI
    assert cp.product_kind("x_amilg.fits") == cp.AMILGFIT
    assert cp.product_kind("x_calints.fits") == cp.PLAIN


def test_conformant_amilg_file_passes(tmp_path):
    report = cp.check_file(write(amilg_hdul(), tmp_path / "x_ami.fits"))
    assert report.ok, report.format()


def test_conformant_oifits_file_passes(tmp_path):
    report = cp.check_file(write(oifits_hdul(), tmp_path / "x_ami-oi.fits"))
    assert report.ok, report.format()


def test_missing_checksums_fail_unless_waived(tmp_path):
    path = write(amilg_hdul(), tmp_path / "x_ami.fits", checksum=False)
    report = cp.check_file(path)
    assert any("CHECKSUM" in p for p in report.problems), report.format()
    assert cp.check_file(path, require_checksums=False).ok


def test_corrupted_data_fails_the_checksum(tmp_path):
    path = write(amilg_hdul(), tmp_path / "x_ami.fits")
    raw = bytearray(path.read_bytes())
    with fits.open(path) as hdul:
        offset = hdul.fileinfo(1)["datLoc"]  # first pixel of FIT
    raw[offset + 1] ^= 0x40
    path.write_bytes(bytes(raw))
    report = cp.check_file(path)
    assert any("astropy" in p and "hecksum" in p for p in report.problems), report.format()


def test_missing_amilg_extension_fails(tmp_path):
    report = cp.check_file(write(amilg_hdul(skip="PUPIL_PHA"), tmp_path / "x_ami.fits"))
    assert any("PUPIL_PHA" in p for p in report.problems), report.format()


def test_wrong_datamodl_fails(tmp_path):
    report = cp.check_file(write(amilg_hdul(datamodl="AmiOIModel"), tmp_path / "x_aminorm.fits"))
    assert any("DATAMODL" in p for p in report.problems), report.format()


def test_nonstandard_card_fails_verify(tmp_path):
    path = write(amilg_hdul(), tmp_path / "x_ami.fits")
    raw = bytearray(path.read_bytes())
    card = raw.find(b"TELESCOP= ")
    raw[card : card + 8] = b"telescop"  # lower-case keyword: not a standard card
    path.write_bytes(bytes(raw))
    report = cp.check_file(path, require_checksums=False)
    assert any(p.startswith("astropy") for p in report.problems), report.format()


def test_oifits_vectors_longer_than_the_wavelength_table_fail(tmp_path):
    """One row per baseline with an nint-long vector (jwst's _amimulti-oi layout)."""
    report = cp.check_file(write(oifits_hdul(nwave=1, vector=5), tmp_path / "x_amimulti-oi.fits"))
    assert any("oifits" in p and "mismatch" in p for p in report.problems), report.format()


def test_check_dir_reports_every_fits_file(tmp_path):
    write(amilg_hdul(), tmp_path / "a_ami.fits")
    write(oifits_hdul(), tmp_path / "a_ami-oi.fits")
    (tmp_path / "notes.txt").write_text("not a product")
    reports = cp.check_dir(tmp_path)
    assert [r.path.name for r in reports] == ["a_ami-oi.fits", "a_ami.fits"]
    assert all(r.ok for r in reports), "\n".join(r.format() for r in reports)


@pytest.mark.parametrize("argv_extra, status", [([], 0), (["--no-require-checksums"], 0)])
def test_command_line_exit_status(tmp_path, argv_extra, status, capsys):
    write(amilg_hdul(), tmp_path / "a_ami.fits")
    assert cp.main([str(tmp_path), *argv_extra]) == status
    assert "OK   a_ami.fits" in capsys.readouterr().out


def test_command_line_fails_on_a_bad_file_and_on_an_empty_dir(tmp_path, capsys):
    write(amilg_hdul(skip="SOLNS"), tmp_path / "a_ami.fits")
    assert cp.main([str(tmp_path)]) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cp.main([str(empty)]) == 2
