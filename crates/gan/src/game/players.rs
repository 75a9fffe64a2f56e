//! The two players' names, parameter groups, loss checks and labels, and the model space of
//! their data: what every part of the game and every model of the family refer to.
use tch::{nn, Device, Kind, Tensor};

use genzoo_core::data::{transforms, DataKind};
use genzoo_core::model::{Losses, ParamGroup};
use genzoo_core::{CoreError, Result};

/// The discriminator's parameter group.
pub const DISC: &str = "disc";
/// The generator's parameter group.
pub const GEN: &str = "gen";

/// A stored batch of `model`'s `data` (`u8 [b, c, h, w]` images or `f32 [b, d]` vectors) in
/// model space on `device`: images scaled to `[-1, 1]`, vectors as stored.
///
/// # Errors
/// [`CoreError::Shape`] (`x`) for data of another shape or kind than the model's.
pub fn model_space(model: &str, data: DataKind, device: Device, x: &Tensor) -> Result<Tensor> {
    let want = data.example_shape();
    if x.dim() != want.len() + 1 || x.size()[1..] != want[..] || x.size()[0] < 1 {
        return Err(CoreError::shape(
            "x",
            format!("{model}: expected [b >= 1, {want:?}], got {:?}", x.size()),
        ));
    }
    let x = x.f_to_device(device)?;
    if data.is_image() {
        if x.kind() != Kind::Uint8 {
            return Err(CoreError::shape(
                "x",
                "expected stored 8-bit pixels (Uint8)",
            ));
        }
        Ok(transforms::scale_symmetric(&x))
    } else {
        Ok(x.f_to_kind(Kind::Float)?)
    }
}

/// The two players' parameter groups of every model of the family: [`DISC`] (the trainable
/// variables under `disc.`) and [`GEN`] (under `gen.`), each sorted by name.
pub fn player_groups(vs: &nn::VarStore) -> Vec<ParamGroup> {
    let mut vars: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let group = |name: &str| ParamGroup {
        name: name.to_string(),
        vars: vars
            .iter()
            .filter(|(n, _)| n.starts_with(&format!("{name}.")))
            .map(|(n, t)| (n.clone(), t.shallow_clone()))
            .collect(),
    };
    vec![group(DISC), group(GEN)]
}

/// The part `name` of an objective's losses.
pub(crate) fn part(losses: &Losses, name: &str) -> Result<Tensor> {
    losses
        .get(name)
        .map(Tensor::shallow_clone)
        .ok_or_else(|| CoreError::Invalid(format!("the objective returned no `{name}`")))
}

/// Checks one player's losses before its optimizer steps, so that a diverging player never
/// updates its weights. `player` is [`DISC`] (whose loss is `d_loss`) or [`GEN`] (`g_loss`);
/// `losses` are every part of the step so far.
///
/// # Errors
/// [`CoreError::NonFinite`] (as the trainer reports one) when a part is NaN or infinite, and
/// [`CoreError::Model`] when the player's loss exceeds `max` in absolute value; both name `step`
/// and every part with its value.
pub fn check_player(model: &str, step: u64, player: &str, losses: &Losses, max: f64) -> Result<()> {
    let values = losses.to_map();
    let parts = losses
        .parts()
        .iter()
        .map(|(k, _)| format!("{k}={}", values.get(k).copied().unwrap_or(f64::NAN)))
        .collect::<Vec<_>>()
        .join(", ");
    if values.len() != losses.parts().len() || values.values().any(|v| !v.is_finite()) {
        return Err(CoreError::NonFinite {
            step,
            parts: format!("{parts} (the {player} player of {model})"),
        });
    }
    let key = if player == DISC { "d_loss" } else { "g_loss" };
    match values.get(key) {
        Some(v) if v.abs() > max => Err(CoreError::model(
            model,
            format!(
                "the {player} player diverged at step {step}: |{key}| = {} > max_loss = {max} ({parts})",
                v.abs()
            ),
        )),
        _ => Ok(()),
    }
}

/// Checks labels for `b` examples of `k` classes: `[b]` integers in `0..k`.
///
/// # Errors
/// [`CoreError::Shape`] (`labels`) naming what is wrong.
pub fn check_labels(y: &Tensor, b: i64, k: i64) -> Result<()> {
    if y.size() != [b]
        || !matches!(
            y.kind(),
            Kind::Int64 | Kind::Int | Kind::Int16 | Kind::Int8 | Kind::Uint8
        )
    {
        return Err(CoreError::shape(
            "labels",
            format!(
                "expected integer labels [{b}], got {:?} {:?}",
                y.kind(),
                y.size()
            ),
        ));
    }
    if b > 0 {
        let (lo, hi) = (
            y.f_min()?.f_int64_value(&[])?,
            y.f_max()?.f_int64_value(&[])?,
        );
        if lo < 0 || hi >= k {
            return Err(CoreError::shape(
                "labels",
                format!("labels span {lo}..={hi}, outside the model's 0..{k}"),
            ));
        }
    }
    Ok(())
}
