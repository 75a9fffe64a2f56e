//! How the players play: the objective, `n_critic`, WGAN's clip and penalty weight, the
//! divergence bound and the training tricks, flattened into each model's config.
use serde::{Deserialize, Serialize};

use crate::objective::Objective;
use crate::tricks::Tricks;
use genzoo_core::{CoreError, Result};

/// How the players play (flattened into each model's config: `objective`, `n_critic`,
/// `gp_lambda`, `clip`, `max_loss` and the [`Tricks`] keys).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Game {
    pub objective: Objective,
    /// Discriminator steps per generator step; `None` (`null`): the objective's paper value,
    /// 5 for `wgan-clip` and `wgan-gp`, 1 otherwise ([`Game::critic_steps`]).
    pub n_critic: Option<u64>,
    /// The gradient penalty's weight lambda (`wgan-gp`; 10 in Gulrajani et al. 2017).
    pub gp_lambda: f64,
    /// The weight clipping bound c (`wgan-clip`; 0.01 in Arjovsky et al. 2017).
    pub clip: f64,
    /// A player whose loss exceeds this in absolute value has diverged: the step fails.
    pub max_loss: f64,
    /// The training tricks, every one off unless switched on.
    #[serde(flatten)]
    pub tricks: Tricks,
}

impl Game {
    /// `objective` with its paper's settings: `n_critic` by objective, lambda 10, c 0.01,
    /// `max_loss` 1e5.
    pub fn new(objective: Objective) -> Game {
        Game {
            objective,
            n_critic: None,
            gp_lambda: 10.0,
            clip: 0.01,
            max_loss: 1e5,
            tricks: Tricks::default(),
        }
    }

    /// Discriminator steps per generator step: `n_critic`, or 5 for the Wasserstein objectives
    /// (Arjovsky et al. 2017; Gulrajani et al. 2017, Algorithm 1) and 1 for the others.
    pub fn critic_steps(&self) -> u64 {
        self.n_critic.unwrap_or(match self.objective {
            Objective::WganClip | Objective::WganGp => 5,
            _ => 1,
        })
    }

    /// Checks the settings, naming the key.
    ///
    /// # Errors
    /// [`CoreError::Config`] for `n_critic` = 0, `gp_lambda` negative, `clip` or `max_loss` not
    /// positive (or any of them not finite), or a trick's bad value ([`Tricks::validate`]).
    pub fn validate(&self) -> Result<()> {
        self.tricks.validate(matches!(
            self.objective,
            Objective::Minimax | Objective::NonSaturating
        ))?;
        if self.n_critic == Some(0) {
            return Err(CoreError::config("n_critic", "must be >= 1"));
        }
        for (key, v, zero_ok) in [
            ("gp_lambda", self.gp_lambda, true),
            ("clip", self.clip, false),
            ("max_loss", self.max_loss, false),
        ] {
            if !(v.is_finite() && (v > 0.0 || (zero_ok && v == 0.0))) {
                return Err(CoreError::config(
                    key,
                    format!(
                        "{v} must be finite and {}",
                        if zero_ok { ">= 0" } else { "> 0" }
                    ),
                ));
            }
        }
        Ok(())
    }
}
