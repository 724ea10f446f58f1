//! Uniform grid over the network's segments, for the matcher's candidate search.
//!
//! The matcher asks for the segments near every sample of a route, always within a few
//! tens of metres. A grid with cells of about that size answers with a handful of array
//! lookups where an R-tree descends several levels and tests many envelopes; the R-tree
//! stays for the one-off GeoJSON attachment (nearest neighbour, long lines).

use crate::routes::network::SegRef;

/// Cell side, metres: about the matcher's search radius, so that a query touches four
/// to nine cells.
const CELL_M: f64 = 40.0;
/// Most cells: 16 MiB of offsets. A country-sized extract gets larger cells (slower
/// queries, same answers) rather than gigabytes of mostly empty ones.
const MAX_CELLS: f64 = (1u32 << 22) as f64;
/// Cells are widened by this much when segments are assigned to them, so that rounding
/// cannot drop a segment that touches a cell's edge, metres.
const EDGE_M: f64 = 0.01;

/// A segment as stored in the grid: its end points in projected metres and its id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GridSeg {
    pub a: [f64; 2],
    pub b: [f64; 2],
    pub id: SegRef,
}

/// Segments bucketed by the cells they pass through (a segment is stored once per
/// cell, so a query may see it more than once).
pub(crate) struct SegGrid {
    origin: [f64; 2],
    /// Cell side, metres.
    cell: f64,
    nx: usize,
    ny: usize,
    /// Segments of cell `(ix, iy)` are `items[start[c]..start[c + 1]]`, `c = iy * nx + ix`.
    start: Vec<u32>,
    items: Vec<GridSeg>,
}

impl SegGrid {
    /// Buckets `segs`, which lie within `bbox` (min x, min y, max x, max y).
    pub(crate) fn new(segs: &[GridSeg], bbox: [f64; 4]) -> SegGrid {
        let origin = [bbox[0], bbox[1]];
        let (w, h) = ((bbox[2] - bbox[0]).max(0.0), (bbox[3] - bbox[1]).max(0.0));
        let cell = CELL_M.max(((w + CELL_M) * (h + CELL_M) / MAX_CELLS).sqrt());
        let span = |extent: f64| (extent / cell) as usize + 1;
        let mut grid = SegGrid { origin, cell, nx: span(w), ny: span(h), start: Vec::new(), items: Vec::new() };
        // Counting pass, then filling pass: one allocation for all cells.
        let mut count = vec![0u32; grid.nx * grid.ny + 1];
        for s in segs {
            grid.for_each_cell(s, |c| count[c + 1] += 1);
        }
        for c in 1..count.len() {
            count[c] += count[c - 1];
        }
        let mut fill = count.clone();
        let placeholder = GridSeg { a: [0.0; 2], b: [0.0; 2], id: (0, 0) };
        let mut items = vec![placeholder; count.last().copied().unwrap_or(0) as usize];
        for s in segs {
            grid.for_each_cell(s, |c| {
                items[fill[c] as usize] = *s;
                fill[c] += 1;
            });
        }
        grid.items = items;
        grid.start = count;
        grid
    }

    /// Calls `f` with every cell index the segment passes through.
    fn for_each_cell(&self, s: &GridSeg, mut f: impl FnMut(usize)) {
        let lo = [s.a[0].min(s.b[0]), s.a[1].min(s.b[1])];
        let hi = [s.a[0].max(s.b[0]), s.a[1].max(s.b[1])];
        let ([x0, y0], [x1, y1]) = self.cell_range(lo, hi);
        for iy in y0..=y1 {
            for ix in x0..=x1 {
                let clo =
                    [self.origin[0] + ix as f64 * self.cell - EDGE_M, self.origin[1] + iy as f64 * self.cell - EDGE_M];
                let chi = [clo[0] + self.cell + 2.0 * EDGE_M, clo[1] + self.cell + 2.0 * EDGE_M];
                if crosses(s.a, s.b, clo, chi) {
                    f(iy * self.nx + ix);
                }
            }
        }
    }

    /// Cells covering the rectangle `lo`–`hi`: first and last column and row, clamped
    /// to the grid (cells beyond it would be empty; at worst a border cell is visited
    /// needlessly).
    fn cell_range(&self, lo: [f64; 2], hi: [f64; 2]) -> ([usize; 2], [usize; 2]) {
        let col = |v: f64, o: f64, n: usize| (((v - o) / self.cell) as usize).min(n - 1);
        (
            [col(lo[0], self.origin[0], self.nx), col(lo[1], self.origin[1], self.ny)],
            [col(hi[0], self.origin[0], self.nx), col(hi[1], self.origin[1], self.ny)],
        )
    }

    /// Calls `f` with every segment whose envelope meets the square of half-side `radius`
    /// around `p`: a superset of the segments within `radius` of `p`.
    pub(crate) fn for_each_near(&self, p: [f64; 2], radius: f64, mut f: impl FnMut(&GridSeg)) {
        let (lo, hi) = ([p[0] - radius, p[1] - radius], [p[0] + radius, p[1] + radius]);
        let ([x0, y0], [x1, y1]) = self.cell_range(lo, hi);
        for iy in y0..=y1 {
            let row = iy * self.nx;
            let (from, to) = (self.start[row + x0] as usize, self.start[row + x1 + 1] as usize);
            for s in &self.items[from..to] {
                // Envelope test first, as an R-tree would: many segments of the cells
                // are outside the query square and need no projection. `&`, not `&&`:
                // one branch instead of four hard-to-predict ones.
                if (s.a[0].max(s.b[0]) >= lo[0])
                    & (s.a[0].min(s.b[0]) <= hi[0])
                    & (s.a[1].max(s.b[1]) >= lo[1])
                    & (s.a[1].min(s.b[1]) <= hi[1])
                {
                    f(s);
                }
            }
        }
    }
}

/// Whether segment `a`–`b` meets the rectangle `lo`–`hi` (Liang–Barsky clipping).
fn crosses(a: [f64; 2], b: [f64; 2], lo: [f64; 2], hi: [f64; 2]) -> bool {
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for k in 0..2 {
        let d = b[k] - a[k];
        if d == 0.0 {
            if a[k] < lo[k] || a[k] > hi[k] {
                return false;
            }
            continue;
        }
        let (u, v) = ((lo[k] - a[k]) / d, (hi[k] - a[k]) / d);
        t0 = t0.max(u.min(v));
        t1 = t1.min(u.max(v));
    }
    t0 <= t1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(grid: &SegGrid, p: [f64; 2], radius: f64) -> Vec<SegRef> {
        let mut out = Vec::new();
        grid.for_each_near(p, radius, |s| out.push(s.id));
        out.sort_unstable();
        out.dedup();
        out
    }

    #[test]
    fn a_country_sized_extract_gets_bounded_cells_and_the_same_answers() {
        let segs = [
            GridSeg { a: [10.0, 10.0], b: [60.0, 10.0], id: (0, 0) },
            GridSeg { a: [1_999_000.0, 1_999_990.0], b: [1_999_950.0, 1_999_990.0], id: (1, 0) },
        ];
        for extent in [1_000.0, 2_000_000.0] {
            let grid = SegGrid::new(&segs, [0.0, 0.0, extent, extent]);
            assert!((grid.nx * grid.ny) as f64 <= MAX_CELLS * 1.01, "{} cells", grid.nx * grid.ny);
            assert_eq!(near(&grid, [35.0, 20.0], 15.0), [(0, 0)]);
            assert!(near(&grid, [35.0, 40.0], 15.0).is_empty());
        }
        let big = SegGrid::new(&segs, [0.0, 0.0, 2_000_000.0, 2_000_000.0]);
        assert!(big.cell > CELL_M);
        assert_eq!(near(&big, [1_999_500.0, 1_999_980.0], 20.0), [(1, 0)]);
    }
}
