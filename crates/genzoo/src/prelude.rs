//! What a first program needs: `use genzoo::prelude::*;`.
//!
//! The model contract and its report ([`GenerativeModel`], [`EvalOptions`], [`EvalReport`],
//! [`Nll`], [`LikelihoodKind`], [`NllUnit`]), the data types ([`Dataset`], [`Split`],
//! [`DataKind`]), the trainer ([`Trainer`], [`TrainConfig`], [`RunMeta`]), the front door's
//! functions ([`catalogue`], [`build`], [`load_dataset`], [`open_run`]) and tch's [`Device`],
//! [`Tensor`] and [`Kind`].
pub use crate::sampling::{Draw, Layout, SampleRequest};
pub use crate::{build, catalogue, load_dataset, open_run, Error, Result, Run};
pub use genzoo_core::data::{DataKind, Dataset, Split};
pub use genzoo_core::model::{
    EvalOptions, EvalReport, GenerativeModel, LikelihoodKind, ModelSpec, Nll,
};
pub use genzoo_core::units::NllUnit;
pub use genzoo_train::{RunMeta, TrainConfig, Trainer};
pub use tch::{Device, Kind, Tensor};
