//! The two-player game every model of the family plays (Goodfellow et al. 2014, Algorithm 1):
//! the [`Game`] settings (objective, `n_critic`, WGAN's clip and penalty weight, the divergence
//! bound), the [`Adversarial`] trait a generator/discriminator pair implements, and [`Gan`],
//! which makes any pair a `genzoo_core::model::Network`.
//!
//! One training step is one discriminator (critic) step on the step's batch and, after every
//! `n_critic`-th discriminator step (counted by `opt.group_steps("disc")`, which survives a
//! resume), one generator step: the critic sees a fresh real batch at each of its steps, as in
//! Algorithm 1 of WGAN and WGAN-GP. Each player back-propagates into its own parameter group
//! (`disc`, `gen`: the weights under `disc.` and `gen.`), so each has its own optimizer and
//! learning rate (`[train.groups.disc]` and `[train.groups.gen]`: TTUR, Adam's betas).
//!
//! The [`Tricks`](crate::tricks::Tricks) switched on in the game act here: instance noise on every discriminator input,
//! one-sided label smoothing of the discriminator's loss, feature matching as the generator's
//! loss, and historical averaging's penalty on both players (with its running means in the
//! variable store, `hist.disc.*` and `hist.gen.*`, so that a resume continues them).
mod adversarial;
mod holder;
mod network;
mod players;
mod settings;

pub use adversarial::Adversarial;
pub use holder::Gan;
pub use players::{check_labels, check_player, model_space, player_groups, DISC, GEN};
pub use settings::Game;
