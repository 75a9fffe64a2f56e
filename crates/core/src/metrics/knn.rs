//! Nearest neighbours in a feature (or pixel) space, and the measures built on them: improved
//! precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for
//! Assessing Generative Models", sec. 2, eq. 1-3) and memorization (each sample's distance to its
//! nearest training example against the training set's own nearest-neighbour distances).
//!
//! Distances are Euclidean, computed in row chunks of [`CHUNK`] queries by one matrix product
//! each (libtorch spreads every product over the CPU's intra-op threads), so memory stays at
//! `CHUNK x reference` numbers whatever the set sizes.
use tch::{Kind, Tensor};

use super::check_features;
use crate::divergence::mmd::pairwise_sq_dists;
use crate::{CoreError, Result};

/// Queries per chunk of the distance matrix.
pub const CHUNK: i64 = 1024;

/// The `k` nearest rows of `reference [m, d]` to each row of `query [n, d]`: distances `[n, k]`
/// (ascending) and indices `[n, k]` into `reference`. With `exclude_self`, `query` is `reference`
/// and each row's own entry is skipped (so duplicates elsewhere still count).
///
/// # Errors
/// [`CoreError::Shape`] (`query`, `reference`) for sets that are not finite `[n, d]`
/// floating-point tensors of one `d`, or with `k` larger than the candidates;
/// [`CoreError::Config`] (`k`) for k < 1; a libtorch error.
pub fn nearest(
    query: &Tensor,
    reference: &Tensor,
    k: i64,
    exclude_self: bool,
) -> Result<(Tensor, Tensor)> {
    check_features("query", query)?;
    check_features("reference", reference)?;
    if k < 1 {
        return Err(CoreError::config("k", "must be >= 1"));
    }
    let (n, m) = (query.size()[0], reference.size()[0]);
    if k > m - i64::from(exclude_self) {
        return Err(CoreError::shape(
            "reference",
            format!("{m} rows cannot give {k} nearest neighbours"),
        ));
    }
    let q = query.f_to_kind(Kind::Float)?;
    let r = reference.f_to_kind(Kind::Float)?;
    let (mut dists, mut idx) = (vec![], vec![]);
    let mut start = 0;
    while start < n {
        let c = CHUNK.min(n - start);
        let mut d2 = pairwise_sq_dists(&q.f_narrow(0, start, c)?, &r)?;
        if exclude_self {
            let own = Tensor::f_arange_start(start, start + c, (Kind::Int64, q.device()))?
                .f_unsqueeze(1)?;
            d2 = d2.f_scatter_value(1, &own, f64::INFINITY)?;
        }
        let (v, i) = d2.f_topk(k, 1, false, true)?;
        dists.push(v.f_sqrt()?);
        idx.push(i);
        start += c;
    }
    Ok((Tensor::f_cat(&dists, 0)?, Tensor::f_cat(&idx, 0)?))
}

/// The share of `query` rows that fall inside at least one hypersphere of `reference`: row `j`'s
/// sphere has radius `radii[j]` (eq. 1 of Kynkäänniemi et al.).
fn share_inside(query: &Tensor, reference: &Tensor, radii: &Tensor) -> Result<f64> {
    let n = query.size()[0];
    let r = reference.f_to_kind(Kind::Float)?;
    let radii2 = radii.f_square()?.f_unsqueeze(0)?;
    let mut inside = 0i64;
    let mut start = 0;
    while start < n {
        let c = CHUNK.min(n - start);
        let d2 = pairwise_sq_dists(&query.f_narrow(0, start, c)?.f_to_kind(Kind::Float)?, &r)?;
        inside += d2
            .f_le_tensor(&radii2)?
            .f_any_dim(1, false)?
            .f_sum(Kind::Int64)?
            .f_int64_value(&[])?;
        start += c;
    }
    Ok(inside as f64 / n as f64)
}

/// Improved precision and recall with `k` nearest neighbours (the paper uses k = 3).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PrecisionRecall {
    /// Share of generated samples inside the real manifold (eq. 3, precision).
    pub precision: f64,
    /// Share of real examples inside the generated manifold (eq. 3, recall).
    pub recall: f64,
}

/// Improved precision and recall of `fake [n, d]` against `real [m, d]`: each set's manifold is
/// the union of spheres around its points reaching their `k`-th nearest neighbour in the same
/// set.
///
/// # Errors
/// As [`nearest`] (naming `query`/`reference` for the set with too few rows for `k`).
pub fn precision_recall(real: &Tensor, fake: &Tensor, k: i64) -> Result<PrecisionRecall> {
    let kth = |x: &Tensor| -> Result<Tensor> { Ok(nearest(x, x, k, true)?.0.f_select(1, k - 1)?) };
    let (r_real, r_fake) = (kth(real)?, kth(fake)?);
    Ok(PrecisionRecall {
        precision: share_inside(fake, real, &r_real)?,
        recall: share_inside(real, fake, &r_fake)?,
    })
}

/// What [`memorization`] finds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Memorization {
    /// Share of samples whose nearest training example is closer than `threshold`.
    pub share_below: f64,
    /// The training set's own nearest-neighbour distance at `percentile` (leave-one-out).
    pub threshold: f64,
    pub percentile: f64,
    /// The closest (sample index, training index, distance) pairs, closest first.
    pub closest: Vec<(i64, i64, f64)>,
}

/// Memorization of `samples [n, d]` against `train [m, d]`: the share of samples closer to
/// their nearest training example than the `percentile`-th percentile (in percent, e.g. 1.0) of
/// the training set's own nearest-neighbour distances, and the `pairs` closest pairs.
///
/// # Errors
/// As [`nearest`]; [`CoreError::Config`] (`percentile`) outside (0, 100).
pub fn memorization(
    samples: &Tensor,
    train: &Tensor,
    percentile: f64,
    pairs: usize,
) -> Result<Memorization> {
    if !(percentile > 0.0 && percentile < 100.0) {
        return Err(CoreError::config("percentile", "must be in (0, 100)"));
    }
    let own = nearest(train, train, 1, true)?
        .0
        .f_flatten(0, -1)?
        .f_to_kind(Kind::Double)?;
    let threshold = own
        .f_quantile_scalar(percentile / 100.0, None, false, "linear")?
        .f_double_value(&[])?;
    let (d, i) = nearest(samples, train, 1, false)?;
    let d = d.f_flatten(0, -1)?.f_to_kind(Kind::Double)?;
    let share_below = d
        .f_lt(threshold)?
        .f_to_kind(Kind::Double)?
        .f_mean(Kind::Double)?
        .f_double_value(&[])?;
    let dv = Vec::<f64>::try_from(&d)?;
    let iv = Vec::<i64>::try_from(&i.f_flatten(0, -1)?)?;
    let mut order: Vec<usize> = (0..dv.len()).collect();
    order.sort_by(|a, b| dv[*a].total_cmp(&dv[*b]));
    let closest = order
        .iter()
        .take(pairs)
        .map(|&s| (s as i64, iv[s], dv[s]))
        .collect();
    Ok(Memorization {
        share_below,
        threshold,
        percentile,
        closest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    const F32: (Kind, Device) = (Kind::Float, Device::Cpu);

    #[test]
    fn a_set_against_itself_has_precision_and_recall_one() {
        tch::manual_seed(4);
        let x = Tensor::randn([300, 5], F32);
        let pr = precision_recall(&x, &x, 3).unwrap();
        assert_eq!((pr.precision, pr.recall), (1.0, 1.0));
    }

    /// Real points on a line segment, fakes half on it and half far away: precision 1/2; the
    /// fakes on the segment cover every real point only where they reach.
    #[test]
    fn hand_made_sets_give_exact_shares() {
        let real = Tensor::arange(10, F32).unsqueeze(1); // 0..9, k=1 radius 1 each
        let fake = Tensor::from_slice(&[0.5f32, 1.5, 100.0, 200.0]).unsqueeze(1);
        let pr = precision_recall(&real, &fake, 1).unwrap();
        assert_eq!(pr.precision, 0.5);
        // fake radii (k = 1): 0.5 -> 1 (to 1.5), 1.5 -> 1, 100 -> 98.5, 200 -> 100.
        // Real points within: |r - 0.5| <= 1: {0, 1}; |r - 1.5| <= 1: {1, 2};
        // |r - 100| <= 98.5: {2..9}; so all 10 are covered.
        assert_eq!(pr.recall, 1.0);
        let far = Tensor::from_slice(&[100.0f32, 101.0]).unsqueeze(1);
        let pr = precision_recall(&real, &far, 1).unwrap();
        assert_eq!((pr.precision, pr.recall), (0.0, 0.0));
    }

    #[test]
    fn nearest_skips_only_the_row_itself() {
        let x = Tensor::from_slice(&[0.0f32, 0.0, 3.0]).unsqueeze(1);
        let (d, i) = nearest(&x, &x, 1, true).unwrap();
        assert_eq!(
            Vec::<f32>::try_from(&d.flatten(0, -1)).unwrap(),
            vec![0.0, 0.0, 3.0]
        );
        assert_eq!(
            Vec::<i64>::try_from(&i.flatten(0, -1)).unwrap(),
            vec![1, 0, 0]
        );
        assert!(nearest(&x, &x, 3, true).is_err());
    }

    #[test]
    fn copies_of_training_examples_are_found() {
        tch::manual_seed(5);
        let train = Tensor::randn([500, 6], F32);
        let fresh = Tensor::randn([90, 6], F32);
        let copies = train.narrow(0, 17, 10).copy();
        let samples = Tensor::cat(&[&fresh, &copies], 0);
        let m = memorization(&samples, &train, 1.0, 8).unwrap();
        // the 10 copies (distance 0) are below any positive threshold; fresh draws rarely are
        assert!(m.share_below >= 0.1 && m.share_below < 0.15, "{m:?}");
        assert_eq!(m.closest.len(), 8);
        // (float32 distances through |a|^2 + |b|^2 - 2ab leave rounding of ~1e-3 for copies)
        assert!(m
            .closest
            .iter()
            .all(|(s, t, d)| *s >= 90 && *t == s - 90 + 17 && *d < 1e-2));
        assert!(memorization(&samples, &train, 0.0, 8).is_err());
    }
}
