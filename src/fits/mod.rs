//! FITS bytes <-> HDUs.
