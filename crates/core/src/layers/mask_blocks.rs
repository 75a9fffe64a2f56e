//! Blocks that hold every nonzero entry of a 0/1 mask, so that masked matrix products can skip
//! the rest. MADE's masks (Germain et al. 2015, eqs. 12-13) in a fixed ordering with degrees that
//! grow along the units are staircases: about half their entries are zero, and `G` groups of rows
//! (or columns), each with the one interval of columns (or rows) it uses, cover about
//! `(G + 1) / 2G` of the matrix. Used by [`super::made_backprop`].

/// Rows (or columns) `start..start + len` of a mask have all their nonzero entries in columns (or
/// rows) `lo..hi`; `lo == hi` when they have none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub start: i64,
    pub len: i64,
    pub lo: i64,
    pub hi: i64,
}

/// The blocks of a `[rows, cols]` mask in both directions: `rows` groups the rows (products
/// shaped like `x M^T` and the weight gradient), `cols` groups the columns (products shaped like
/// `d M`, where `lo..hi` ranges over rows).
#[derive(Clone, Debug, PartialEq)]
pub struct MaskBlocks {
    pub rows: Vec<Block>,
    pub cols: Vec<Block>,
    /// `[rows, cols]` of the mask.
    pub shape: (i64, i64),
}

/// A direction whose blocks would cover more than this share of the matrix stays one dense block:
/// several smaller products are not worth a few percent of the work.
pub const MAX_FILL: f64 = 0.85;

impl MaskBlocks {
    /// One block over the whole `[rows, cols]` matrix in each direction: the dense product.
    pub fn dense(rows: i64, cols: i64) -> Self {
        MaskBlocks {
            rows: vec![Block {
                start: 0,
                len: rows,
                lo: 0,
                hi: cols,
            }],
            cols: vec![Block {
                start: 0,
                len: cols,
                lo: 0,
                hi: rows,
            }],
            shape: (rows, cols),
        }
    }

    /// `groups` contiguous groups of the rows and of the columns of the row-major `[rows, cols]`
    /// mask `values` (nonzero = kept), each with the interval its nonzero entries fall in; a
    /// direction covering more than [`MAX_FILL`] of the matrix stays one dense block.
    pub fn of(values: &[f32], rows: i64, cols: i64, groups: i64) -> Self {
        let (r, c) = (rows.max(0) as usize, cols.max(0) as usize);
        let mut row_span = vec![None::<(i64, i64)>; r];
        let mut col_span = vec![None::<(i64, i64)>; c];
        for (i, row) in values.chunks(c.max(1)).take(r).enumerate() {
            for (j, _) in row.iter().enumerate().filter(|(_, v)| **v != 0.0) {
                widen(&mut row_span[i], j as i64);
                widen(&mut col_span[j], i as i64);
            }
        }
        let dense = MaskBlocks::dense(rows, cols);
        let pick = |spans: &[Option<(i64, i64)>], other: i64, dense: Vec<Block>| {
            let blocks = group(spans, groups);
            let area: i64 = blocks.iter().map(|b| b.len * (b.hi - b.lo)).sum();
            let full = spans.len() as i64 * other;
            if full > 0 && area as f64 > MAX_FILL * full as f64 {
                dense
            } else {
                blocks
            }
        };
        MaskBlocks {
            rows: pick(&row_span, cols, dense.rows),
            cols: pick(&col_span, rows, dense.cols),
            shape: (rows, cols),
        }
    }

    /// The share of the dense product's work the row blocks and the column blocks do.
    pub fn fill(&self) -> (f64, f64) {
        let full = (self.shape.0 * self.shape.1).max(1) as f64;
        let share = |blocks: &[Block]| {
            blocks.iter().map(|b| b.len * (b.hi - b.lo)).sum::<i64>() as f64 / full
        };
        (share(&self.rows), share(&self.cols))
    }
}

fn widen(span: &mut Option<(i64, i64)>, at: i64) {
    *span = Some(match *span {
        None => (at, at + 1),
        Some((lo, hi)) => (lo.min(at), hi.max(at + 1)),
    });
}

/// `groups` contiguous groups of `spans` (as equal as the count allows), each with the union of
/// its members' intervals.
fn group(spans: &[Option<(i64, i64)>], groups: i64) -> Vec<Block> {
    let n = spans.len() as i64;
    let g = groups.clamp(1, n.max(1));
    (0..g)
        .map(|k| (n * k / g, n * (k + 1) / g))
        .filter(|(a, b)| b > a)
        .map(|(a, b)| {
            let (lo, hi) = spans[a as usize..b as usize]
                .iter()
                .flatten()
                .fold(None::<(i64, i64)>, |acc, &(l, h)| {
                    Some(acc.map_or((l, h), |(al, ah)| (al.min(l), ah.max(h))))
                })
                .unwrap_or((0, 0));
            Block {
                start: a,
                len: b - a,
                lo,
                hi,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every nonzero entry of the mask lies in a block, in both directions.
    fn covers(values: &[f32], rows: i64, cols: i64, b: &MaskBlocks) -> bool {
        let inside = |blocks: &[Block], a: i64, o: i64| {
            blocks
                .iter()
                .any(|k| a >= k.start && a < k.start + k.len && o >= k.lo && o < k.hi)
        };
        (0..rows).all(|i| {
            (0..cols).all(|j| {
                values[(i * cols + j) as usize] == 0.0
                    || (inside(&b.rows, i, j) && inside(&b.cols, j, i))
            })
        })
    }

    #[test]
    fn a_staircase_is_covered_by_fewer_entries_and_a_full_mask_stays_dense() {
        // Row i keeps columns 0..=i of an 8 x 8 lower triangle.
        let tri: Vec<f32> = (0..64)
            .map(|k| if k % 8 <= k / 8 { 1.0 } else { 0.0 })
            .collect();
        let b = MaskBlocks::of(&tri, 8, 8, 4);
        assert!(covers(&tri, 8, 8, &b));
        assert_eq!(
            b.rows,
            (0..4)
                .map(|k| Block {
                    start: 2 * k,
                    len: 2,
                    lo: 0,
                    hi: 2 * k + 2
                })
                .collect::<Vec<_>>()
        );
        assert_eq!(
            b.cols[0],
            Block {
                start: 0,
                len: 2,
                lo: 0,
                hi: 8
            }
        );
        assert_eq!(
            b.cols[3],
            Block {
                start: 6,
                len: 2,
                lo: 6,
                hi: 8
            }
        );
        assert_eq!(b.fill(), (40.0 / 64.0, 40.0 / 64.0));
        // All ones, and a random-looking pattern: one dense block.
        let ones = vec![1.0f32; 30];
        assert_eq!(MaskBlocks::of(&ones, 5, 6, 3), MaskBlocks::dense(5, 6));
        let scattered: Vec<f32> = (0..64).map(|k| ((k * 7 % 5) == 0) as u8 as f32).collect();
        let s = MaskBlocks::of(&scattered, 8, 8, 4);
        assert!(covers(&scattered, 8, 8, &s));
        // An empty row group gets an empty interval, and more groups than rows is fine.
        let mut holes = tri.clone();
        holes[..16].iter_mut().for_each(|v| *v = 0.0);
        let h = MaskBlocks::of(&holes, 8, 8, 20);
        assert!(covers(&holes, 8, 8, &h));
        assert_eq!(h.rows.len(), 8);
        assert_eq!((h.rows[0].lo, h.rows[0].hi), (0, 0));
    }
}
