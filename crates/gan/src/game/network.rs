//! [`Gan`] as a `genzoo_core::model::Network`: training through its two steps, evaluation
//! without a likelihood ([`crate::eval`]), sampling, class-conditional sampling and traversals.
use genzoo_core::model::Family;
use tch::{nn, Tensor};

use super::adversarial::Adversarial;
use super::holder::Gan;
use super::players::{check_labels, player_groups, DISC};
use genzoo_core::data::{Batch, Dataset};
use genzoo_core::model::{
    ConditionalSample, EvalOptions, EvalReport, Losses, Network, Optimize, ParamGroup, Traverse,
};
use genzoo_core::{CoreError, Result};

impl<N: Adversarial> Network for Gan<N> {
    fn name(&self) -> &str {
        self.net.name()
    }
    fn family(&self) -> Family {
        Family::Gan
    }
    fn config_json(&self) -> serde_json::Value {
        self.net.config_json()
    }
    fn param_groups(&self, vs: &nn::VarStore) -> Option<Vec<ParamGroup>> {
        Some(player_groups(vs))
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let real = self.to_model_space(&batch.x)?;
        let y = self.labels_of(batch.y.as_ref(), real.size()[0])?;
        let losses = self.disc_step(&real, y.as_ref(), opt)?;
        if opt.group_steps(DISC)? % self.net.game().critic_steps() == 0 {
            return self.gen_step(&real, y.as_ref(), losses, opt);
        }
        Ok(losses)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        crate::eval::evaluate(self, data, opts)
    }
    /// Adam with beta1 = 0.5 for both players (Radford et al. 2016, sec. 4).
    fn adam_betas(&self) -> Option<[f64; 2]> {
        Some([0.5, 0.999])
    }
    fn class_sampler(&self) -> Option<&dyn ConditionalSample> {
        self.net
            .num_classes()
            .or(self.net.latent_classes())
            .map(|_| self as &dyn ConditionalSample)
    }
    fn traverser(&self) -> Option<&dyn Traverse> {
        (self.net.traversal_factors() > 0).then_some(self as &dyn Traverse)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        let x = self.generate_seeded(n, seed, 500, self.cycled_labels(n)?.as_ref())?;
        Ok(self.to_sample_space(x))
    }
}

impl<N: Adversarial> ConditionalSample for Gan<N> {
    fn num_classes(&self) -> i64 {
        self.net
            .num_classes()
            .or(self.net.latent_classes())
            .unwrap_or(0)
    }
    fn classes_are_labels(&self) -> bool {
        self.net.num_classes().is_some()
    }
    fn sample_classes(&self, labels: &Tensor, seed: u64) -> Result<Tensor> {
        let n = labels.size().first().copied().unwrap_or(0);
        let y = match self.net.latent_classes() {
            Some(k) if self.net.num_classes().is_none() => {
                check_labels(labels, n, k)?;
                Some(labels.f_to_device(self.net.device())?)
            }
            _ => self.labels_of(Some(labels), n)?,
        };
        let x = self.generate_seeded(n, seed, 500, y.as_ref())?;
        Ok(self.to_sample_space(x))
    }
}

impl<N: Adversarial> Traverse for Gan<N> {
    fn factors(&self) -> usize {
        self.net.traversal_factors()
    }
    fn traverse(&self, factor: usize, steps: i64, seed: u64) -> Result<Tensor> {
        if steps < 2 {
            return Err(CoreError::Invalid(format!(
                "traverse: steps = {steps}, need at least 2"
            )));
        }
        let x = tch::no_grad(|| {
            genzoo_core::seed::seed_torch_stream(seed, "gan-traverse", 0);
            let z = self.net.traversal_latent(factor, steps)?;
            self.net.generate(&z, None, false)
        })?;
        Ok(self.to_sample_space(x))
    }
}
