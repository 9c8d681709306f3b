//! The NIRISS 7-hole non-redundant mask: hole names and centres, and the one definition of the
//! hole, baseline, triangle and quad orders that every table uses (upstream.md §2.1, §3.10).
//! Nothing here reads files; the NRM reference file is parsed in `products::reffiles`.

use crate::error::{Error, Kind, Result};

/// Number of holes in the NIRISS mask.
pub const N_HOLES: usize = 7;

/// As-built hole names in the fixed hole order (index 0..6), used by `chooseholes`.
pub const HOLE_NAMES: [&str; N_HOLES] = ["B4", "C2", "B5", "B2", "C1", "B6", "C6"];

/// As-designed hole centres (x, y) in metres, in hole order (upstream.md §2.1). Used when no NRM
/// reference file is given; the reference file's NRM_X_Ai / NRM_Y_Ai keywords override them.
pub const DESIGN_CENTRES_M: [(f64, f64); N_HOLES] = [
    (0.0, -2.64),
    (-2.28631, 0.0),
    (2.28631, -1.3200001),
    (-2.28631, 1.3200001),
    (-1.14315, 1.98),
    (2.28631, 1.3200001),
    (1.14315, 1.98),
];

/// Hole flat-to-flat size when no NRM reference file is given (upstream.md §2.2, jwst >= 1.17).
pub const DEFAULT_HOLE_FLAT_TO_FLAT_M: f64 = 0.80;

/// Mask geometry as the model uses it: the instrument-frame centres of the selected holes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MaskGeometry {
    /// Indices (0..7, in hole order) of the holes in use.
    pub holes: Vec<usize>,
    /// Instrument-frame centres (c0, c1) in metres of the holes in use; c0 multiplies the row
    /// offset and c1 the column offset in the model (upstream.md §2.1 axis binding).
    pub centres_inst_m: Vec<[f64; 2]>,
    /// Hexagonal hole flat-to-flat size in metres.
    pub hole_flat_to_flat_m: f64,
}

impl MaskGeometry {
    /// Geometry from as-designed centres: negate x ("reverse V2"), then rotate by +90 degrees,
    /// which nets (c0, c1) = (-y_design, -x_design) (upstream.md §2.1).
    pub fn from_design(
        design_m: &[(f64, f64); N_HOLES],
        flat_to_flat_m: f64,
        holes: &[usize],
    ) -> Self {
        let centres_inst_m = holes
            .iter()
            .map(|&h| {
                let (x, y) = design_m[h];
                // (-x, y) rotated by +90 degrees: (a, b) -> (-b, a)
                let (a, b) = (-x, y);
                [-b, a]
            })
            .collect();
        MaskGeometry {
            holes: holes.to_vec(),
            centres_inst_m,
            hole_flat_to_flat_m: flat_to_flat_m,
        }
    }

    /// The default mask: all seven holes, as designed, 0.80 m holes.
    pub fn default_all_holes() -> Self {
        let all: Vec<usize> = (0..N_HOLES).collect();
        Self::from_design(&DESIGN_CENTRES_M, DEFAULT_HOLE_FLAT_TO_FLAT_M, &all)
    }

    pub fn n_holes(&self) -> usize {
        self.holes.len()
    }
}

/// Parses a `chooseholes` list such as "B4,C2,B5" (case-insensitive, commas or spaces) into hole
/// indices in hole order. Upstream iterates a string character by character (upstream.md §8.2
/// item 3); we take names.
pub fn parse_chooseholes(spec: &str) -> Result<Vec<usize>> {
    let mut holes = Vec::new();
    for name in spec
        .split(|c: char| {
            c == ',' || c.is_whitespace() || c == '[' || c == ']' || c == '\'' || c == '"'
        })
        .filter(|s| !s.is_empty())
    {
        let upper = name.to_ascii_uppercase();
        let idx = HOLE_NAMES.iter().position(|h| *h == upper).ok_or_else(|| {
            Error::unnamed(
                Kind::BadOption,
                format!(
                    "unknown hole name '{name}' (holes are {})",
                    HOLE_NAMES.join(", ")
                ),
            )
        })?;
        if holes.contains(&idx) {
            return Err(Error::unnamed(
                Kind::BadOption,
                format!("hole '{name}' given twice"),
            ));
        }
        holes.push(idx);
    }
    holes.sort_unstable();
    if holes.len() < 3 {
        return Err(Error::unnamed(
            Kind::BadOption,
            format!(
                "chooseholes needs at least 3 holes to form a closure phase, got {}",
                holes.len()
            ),
        ));
    }
    Ok(holes)
}

/// Hole pairs (a, b), a < b, lexicographic: the baseline order (upstream.md §3.10).
pub fn baselines(n: usize) -> Vec<[usize; 2]> {
    let mut out = Vec::with_capacity(n * (n - 1) / 2);
    for a in 0..n {
        for b in a + 1..n {
            out.push([a, b]);
        }
    }
    out
}

/// Hole triples (a, b, c), a < b < c, lexicographic: the triangle order.
pub fn triangles(n: usize) -> Vec<[usize; 3]> {
    let mut out = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            for c in b + 1..n {
                out.push([a, b, c]);
            }
        }
    }
    out
}

/// Hole quadruples (a, b, c, d), a < b < c < d, lexicographic: the quad order.
pub fn quads(n: usize) -> Vec<[usize; 4]> {
    let mut out = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            for c in b + 1..n {
                for d in c + 1..n {
                    out.push([a, b, c, d]);
                }
            }
        }
    }
    out
}

/// Index of baseline (a, b), a < b, among `baselines(n)`.
pub fn baseline_index(n: usize, a: usize, b: usize) -> usize {
    debug_assert!(a < b && b < n);
    a * (2 * n - a - 1) / 2 + (b - a - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_have_the_binomial_counts_and_start_as_upstream_lists() {
        assert_eq!(baselines(7).len(), 21);
        assert_eq!(triangles(7).len(), 35);
        assert_eq!(quads(7).len(), 35);
        assert_eq!(baselines(7)[6], [1, 2]);
        assert_eq!(baselines(7)[20], [5, 6]);
        assert_eq!(triangles(7)[5], [0, 2, 3]);
        assert_eq!(triangles(7)[34], [4, 5, 6]);
        assert_eq!(quads(7)[4], [0, 1, 3, 4]);
        assert_eq!(quads(7)[34], [3, 4, 5, 6]);
    }

    #[test]
    fn baseline_index_matches_the_enumeration() {
        for (k, [a, b]) in baselines(7).into_iter().enumerate() {
            assert_eq!(baseline_index(7, a, b), k);
        }
    }

    #[test]
    fn instrument_frame_centres_are_minus_y_minus_x() {
        let g = MaskGeometry::default_all_holes();
        assert_eq!(g.centres_inst_m[1], [0.0, 2.28631]);
        assert_eq!(g.centres_inst_m[0], [2.64, 0.0]);
        assert_eq!(g.centres_inst_m[6], [-1.98, -1.14315]);
    }

    #[test]
    fn chooseholes_parses_names_in_any_case() {
        assert_eq!(parse_chooseholes("b4, C2,B5").unwrap(), vec![0, 1, 2]);
        assert!(parse_chooseholes("B4,X9,B5").is_err());
        assert!(parse_chooseholes("B4,C2").is_err());
    }
}
