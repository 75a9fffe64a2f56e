//! [`BatchIter`]: a seeded, shuffling mini-batch iterator that keeps the dataset on the model's
//! device and can start at any (epoch, batch index) for an exact resume.
//!
//! The order of epoch e is a Fisher-Yates permutation drawn from `seed::rng(seed, "shuffle", e)`:
//! it depends on (seed, e) only, so batch j of epoch e is the same whether the iterator ran from
//! the start or was created at (e, j). Batches are gathered with `index_select` on the device
//! (no host round trip per batch). The iterator is endless: after the last batch of an epoch
//! comes the first batch of the next.
use rand::seq::SliceRandom;
use tch::{Device, Kind, Tensor};

use super::{Batch, DataKind, Dataset};
use crate::{CoreError, Result};

/// Seeded shuffling batch iterator over a [`Dataset`].
#[derive(Debug)]
pub struct BatchIter {
    x: Tensor,
    y: Option<Tensor>,
    kind: DataKind,
    n: i64,
    batch_size: i64,
    seed: u64,
    shuffle: bool,
    drop_last: bool,
    epoch: u64,
    batch: i64,
    /// Order of the current epoch, `i64 [n]` on the device.
    order: Tensor,
}

impl BatchIter {
    /// Batches of `batch_size` from `ds`, moved to `device` once. Shuffled, incomplete last batch
    /// dropped (unless the dataset is smaller than one batch: then one batch of all of it).
    ///
    /// # Errors
    /// [`CoreError::Config`] (key `batch_size`) when `batch_size` is not positive, and
    /// [`CoreError::Shape`] naming the dataset when `ds` is empty.
    pub fn new(ds: &Dataset, batch_size: i64, seed: u64, device: Device) -> Result<Self> {
        if batch_size <= 0 {
            return Err(CoreError::config(
                "batch_size",
                format!("must be positive, got {batch_size}"),
            ));
        }
        if ds.is_empty() {
            return Err(CoreError::shape(
                &ds.name,
                "cannot iterate over an empty dataset",
            ));
        }
        let mut it = BatchIter {
            x: ds.x.to_device(device),
            y: ds.y.as_ref().map(|y| y.to_device(device)),
            kind: ds.kind,
            n: ds.len(),
            batch_size,
            seed,
            shuffle: true,
            drop_last: true,
            epoch: 0,
            batch: 0,
            order: Tensor::zeros([0], (Kind::Int64, device)),
        };
        it.order = it.order_of(0);
        Ok(it)
    }

    /// Turns shuffling on or off (off: dataset order every epoch).
    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self.order = self.order_of(self.epoch);
        self
    }

    /// Keeps (false) or drops (true, the default) the incomplete last batch of each epoch.
    pub fn drop_last(mut self, on: bool) -> Self {
        self.drop_last = on;
        self
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> i64 {
        if self.n <= self.batch_size {
            1
        } else if self.drop_last {
            self.n / self.batch_size
        } else {
            (self.n + self.batch_size - 1) / self.batch_size
        }
    }

    /// (epoch, batch index) of the next batch.
    pub fn position(&self) -> (u64, i64) {
        (self.epoch, self.batch)
    }

    /// Examples in the dataset.
    pub fn len(&self) -> i64 {
        self.n
    }

    /// Always false: [`BatchIter::new`] refuses empty datasets.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Continues at batch `batch` of epoch `epoch` (exact resume).
    ///
    /// # Errors
    /// [`CoreError::Invalid`] when `batch` lies outside `0..batches_per_epoch()`.
    pub fn seek(&mut self, epoch: u64, batch: i64) -> Result<()> {
        if batch < 0 || batch >= self.batches_per_epoch() {
            return Err(CoreError::Invalid(format!(
                "batch index {batch} outside 0..{}",
                self.batches_per_epoch()
            )));
        }
        if epoch != self.epoch {
            self.order = self.order_of(epoch);
        }
        self.epoch = epoch;
        self.batch = batch;
        Ok(())
    }

    /// Continues at the batch of global step `step` (epoch = step / batches_per_epoch).
    ///
    /// # Errors
    /// None in practice: the batch index `step % batches_per_epoch` is always in range; the
    /// `Result` is that of [`BatchIter::seek`].
    pub fn seek_step(&mut self, step: u64) -> Result<()> {
        let bpe = self.batches_per_epoch() as u64;
        self.seek(step / bpe, (step % bpe) as i64)
    }

    fn order_of(&self, epoch: u64) -> Tensor {
        let mut idx: Vec<i64> = (0..self.n).collect();
        if self.shuffle {
            idx.shuffle(&mut crate::seed::rng(self.seed, "shuffle", epoch));
        }
        Tensor::from_slice(&idx).to_device(self.x.device())
    }

    /// The next batch (endless: rolls over into the next epoch).
    pub fn next_batch(&mut self) -> Batch {
        let start = self.batch * self.batch_size;
        let len = self.batch_size.min(self.n - start);
        let idx = self.order.narrow(0, start, len);
        let batch = Batch {
            x: self.x.index_select(0, &idx),
            y: self.y.as_ref().map(|y| y.index_select(0, &idx)),
            kind: self.kind,
        };
        self.batch += 1;
        if self.batch >= self.batches_per_epoch() {
            self.batch = 0;
            self.epoch += 1;
            self.order = self.order_of(self.epoch);
        }
        batch
    }

    /// The remaining batches of the current epoch.
    pub fn epoch_batches(&mut self) -> impl Iterator<Item = Batch> + '_ {
        let left = self.batches_per_epoch() - self.batch;
        (0..left).map(move |_| self.next_batch())
    }
}

impl Iterator for BatchIter {
    type Item = Batch;
    fn next(&mut self) -> Option<Batch> {
        Some(self.next_batch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(n: i64) -> Dataset {
        Dataset {
            name: "toy".into(),
            kind: DataKind::Vector { dim: 2 },
            x: Tensor::arange(n * 2, (Kind::Float, Device::Cpu)).reshape([n, 2]),
            y: Some(Tensor::arange(n, (Kind::Int64, Device::Cpu))),
            num_classes: None,
        }
    }

    fn ids(b: &Batch) -> Vec<i64> {
        Vec::<i64>::try_from(b.y.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn deterministic_permutation_per_epoch() {
        let d = ds(10);
        let mut a = BatchIter::new(&d, 3, 5, Device::Cpu).unwrap();
        let mut b = BatchIter::new(&d, 3, 5, Device::Cpu).unwrap();
        assert_eq!(a.batches_per_epoch(), 3);
        let ea: Vec<i64> = a.epoch_batches().flat_map(|b| ids(&b)).collect();
        let eb: Vec<i64> = b.epoch_batches().flat_map(|b| ids(&b)).collect();
        assert_eq!(ea, eb);
        // 9 distinct examples (one dropped), shuffled, x and y gathered together.
        let mut s = ea.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 9);
        assert_ne!(ea, (0..9).collect::<Vec<_>>());
        assert_eq!(a.position(), (1, 0));
        let e1: Vec<i64> = a.epoch_batches().flat_map(|b| ids(&b)).collect();
        assert_ne!(e1, ea, "epochs must be reshuffled");
        let mut c = BatchIter::new(&d, 3, 6, Device::Cpu).unwrap();
        assert_ne!(
            c.epoch_batches().flat_map(|b| ids(&b)).collect::<Vec<_>>(),
            ea
        );
        let mut a = BatchIter::new(&d, 3, 5, Device::Cpu).unwrap();
        let b0 = a.next_batch();
        let row = ids(&b0)[1];
        assert_eq!(b0.x.double_value(&[1, 1]), (2 * row + 1) as f64);
        assert_eq!(b0.kind, DataKind::Vector { dim: 2 });
    }

    #[test]
    fn resume_at_offset_matches_straight_run() {
        let d = ds(23);
        let mut straight = BatchIter::new(&d, 4, 11, Device::Cpu).unwrap();
        let all: Vec<Vec<i64>> = (0..17).map(|_| ids(&straight.next_batch())).collect();
        for step in [0u64, 3, 5, 6, 12] {
            let mut r = BatchIter::new(&d, 4, 11, Device::Cpu).unwrap();
            r.seek_step(step).unwrap();
            let rest: Vec<Vec<i64>> = (step..17).map(|_| ids(&r.next_batch())).collect();
            assert_eq!(rest, all[step as usize..].to_vec(), "resume at step {step}");
        }
        let mut r = BatchIter::new(&d, 4, 11, Device::Cpu).unwrap();
        r.seek(2, 1).unwrap();
        assert_eq!(ids(&r.next_batch()), all[5 * 2 + 1]);
        assert!(r.seek(0, 5).is_err());
    }

    #[test]
    fn keep_last_unshuffled_and_small_sets() {
        let d = ds(10);
        let mut it = BatchIter::new(&d, 4, 0, Device::Cpu)
            .unwrap()
            .shuffle(false)
            .drop_last(false);
        assert_eq!(it.batches_per_epoch(), 3);
        let sizes: Vec<Vec<i64>> = it.epoch_batches().map(|b| ids(&b)).collect();
        assert_eq!(sizes, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
        let mut small = BatchIter::new(&d, 64, 0, Device::Cpu).unwrap();
        assert_eq!(
            (small.batches_per_epoch(), small.next_batch().x.size()[0]),
            (1, 10)
        );
        assert!(BatchIter::new(&d, 0, 0, Device::Cpu).is_err());
        assert!(BatchIter::new(&d.take(0), 4, 0, Device::Cpu).is_err());
    }

    /// On a GPU (when present) the batches live on it and equal the CPU ones.
    #[test]
    fn batches_stay_on_the_device() {
        let dev = Device::cuda_if_available();
        let d = ds(50);
        let mut on = BatchIter::new(&d, 8, 3, dev).unwrap();
        let mut cpu = BatchIter::new(&d, 8, 3, Device::Cpu).unwrap();
        for _ in 0..9 {
            let (a, b) = (on.next_batch(), cpu.next_batch());
            assert_eq!(a.x.device(), dev);
            assert_eq!(a.y.as_ref().unwrap().device(), dev);
            assert!(a.x.to_device(Device::Cpu).equal(&b.x));
        }
    }
}
