//! The ATen kernels tch 0.24 does not bind, in one place: PyTorch's fused Adam and AdamW
//! ([`FusedAdam`]) and LeakyReLU with a chosen slope ([`leaky_relu`]). `kernels.cpp` beside this
//! file is compiled by `build.rs` against the setup's libtorch headers; [`compiled`] says whether
//! it was. Where it was not (no headers at build time: the build prints a warning), each kernel's
//! caller runs a slower fallback, and the first fallback to run says so once on standard error.
//!
//! One error protocol: every C function returns `nullptr` or a message allocated by `strdup`,
//! which `ffi::take_error` turns into a `String` and frees.
use std::sync::Once;

use tch::Tensor;

use crate::{CoreError, Result};

/// Whether `kernels.cpp` was compiled in (cfg `genzoo_kernels`, set by `build.rs`): the one
/// query for "is the fast kernel in?".
pub fn compiled() -> bool {
    cfg!(genzoo_kernels)
}

/// Says once per process, on standard error, that a slower fallback runs in place of `kernel`.
pub fn note_fallback(kernel: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        eprintln!(
            "genzoo: the ATen kernels were not compiled in (no libtorch headers when genzoo-core \
             was built; see its build warnings): {kernel} and the others run slower fallbacks"
        );
    });
}

/// LeakyReLU, `max(x, slope x)` for `0 <= slope < 1`, any shape: ATen's own kernel with the slope
/// given where [`compiled`]; else PReLU with a constant slope, the same values and gradients
/// (tested in `kernels::tests`), one kernel each way but 6-9x slower at DCGAN's sizes (its
/// backward also reduces a gradient for the slope).
///
/// # Errors
/// [`CoreError::Torch`] with the kernel's message (a non-floating `x`, ...).
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    #[cfg(genzoo_kernels)]
    return ffi::leaky_relu(x, slope).map_err(|m| tch::TchError::Torch(m).into());
    #[cfg(not(genzoo_kernels))]
    {
        note_fallback("LeakyReLU (PReLU)");
        let w = Tensor::f_full([1], slope, (x.kind(), x.device()))?;
        Ok(x.f_prelu(&w)?)
    }
}

/// One Adam (or, with `adamw`, AdamW) step of PyTorch's fused kernel (Kingma & Ba 2015,
/// Algorithm 1; Loshchilov & Hutter 2019): one pass over each parameter's memory instead of the
/// eight elementwise kernels of an unfused update (on 785,284 floats and 2 cores, 1.7-3.0 ms
/// against 5.3 ms per update).
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(genzoo_kernels), allow(dead_code))] // read only by the kernel's call
pub struct FusedAdam {
    pub lr: f64,
    pub betas: [f64; 2],
    pub eps: f64,
    pub weight_decay: f64,
    /// Decoupled weight decay (AdamW) rather than L2 added to the gradient (Adam).
    pub adamw: bool,
}

impl FusedAdam {
    /// Updates `params[i]` in place from `grads[i]` (all defined), with first and second moments
    /// `m[i]` and `v[i]` (updated in place), all on one device and of one floating dtype; `step`
    /// is a 0-dim `f32` tensor on that device holding t (1 on the first step).
    ///
    /// # Errors
    /// [`CoreError::Invalid`] naming the lists when their lengths differ, or with the kernel's
    /// message (mismatched dtypes or devices), or saying that the kernel was not compiled in
    /// (the caller then runs its own update).
    pub fn step(
        &self,
        params: &[Tensor],
        grads: &[Tensor],
        m: &[&Tensor],
        v: &[&Tensor],
        step: &Tensor,
    ) -> Result<()> {
        let n = params.len();
        if grads.len() != n || m.len() != n || v.len() != n {
            return Err(CoreError::Invalid(format!(
                "fused Adam: {n} parameters but {} gradients, {} and {} moments",
                grads.len(),
                m.len(),
                v.len()
            )));
        }
        #[cfg(genzoo_kernels)]
        return ffi::fused_adam(
            self,
            [
                params.iter().collect(),
                grads.iter().collect(),
                m.to_vec(),
                v.to_vec(),
            ],
            step,
        )
        .map_err(|e| CoreError::Invalid(format!("fused Adam: {e}")));
        #[cfg(not(genzoo_kernels))]
        {
            let _ = step;
            Err(CoreError::Invalid(
                "fused Adam was not compiled in (no libtorch headers at build time)".into(),
            ))
        }
    }
}

#[cfg(genzoo_kernels)]
#[allow(unsafe_code)] // the FFI calls into kernels.cpp; every pointer is a live tch tensor
mod ffi {
    use std::ffi::{c_char, c_int, c_void, CStr};

    use tch::Tensor;

    use super::FusedAdam;

    extern "C" {
        fn genzoo_fused_adam(
            params: *const *mut c_void,
            grads: *const *mut c_void,
            exp_avgs: *const *mut c_void,
            exp_avg_sqs: *const *mut c_void,
            step: *mut c_void,
            n: i64,
            lr: f64,
            beta1: f64,
            beta2: f64,
            weight_decay: f64,
            eps: f64,
            adamw: c_int,
        ) -> *mut c_char;
        fn genzoo_leaky_relu(x: *const c_void, slope: f64, out: *mut *mut c_void) -> *mut c_char;
        fn genzoo_free_error(e: *mut c_char);
    }

    /// The one error protocol: `err` is null (success) or a `strdup`ed message, freed here.
    pub(super) fn take_error(err: *mut c_char) -> Result<(), String> {
        if err.is_null() {
            return Ok(());
        }
        // SAFETY: a non-null return is a NUL-terminated string from strdup, freed once here.
        let msg = unsafe { CStr::from_ptr(err) }
            .to_string_lossy()
            .into_owned();
        unsafe { genzoo_free_error(err) };
        Err(msg)
    }

    fn handle(t: &Tensor) -> *mut c_void {
        t.as_ptr() as *mut c_void
    }

    /// The fused kernel on `[params, grads, exp_avgs, exp_avg_sqs]` (checked to be of one
    /// length by the caller).
    pub(super) fn fused_adam(
        a: &FusedAdam,
        lists: [Vec<&Tensor>; 4],
        step: &Tensor,
    ) -> Result<(), String> {
        let [p, g, m, v] = lists.map(|l| l.into_iter().map(handle).collect::<Vec<_>>());
        // SAFETY: each pointer is the `at::Tensor*` of a tensor borrowed for this call, the
        // arrays hold `p.len()` entries, and the C++ side copies the handles before use and
        // catches every exception.
        take_error(unsafe {
            genzoo_fused_adam(
                p.as_ptr(),
                g.as_ptr(),
                m.as_ptr(),
                v.as_ptr(),
                handle(step),
                p.len() as i64,
                a.lr,
                a.betas[0],
                a.betas[1],
                a.weight_decay,
                a.eps,
                c_int::from(a.adamw),
            )
        })
    }

    /// `at::leaky_relu(x, slope)`, or the kernel's message.
    pub(super) fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor, String> {
        let mut out: *mut c_void = std::ptr::null_mut();
        // SAFETY: `x.as_ptr()` is the `at::Tensor*` of a tensor borrowed for this call; the C++
        // side catches every exception and writes `out` only on success.
        take_error(unsafe { genzoo_leaky_relu(x.as_ptr().cast(), slope, &mut out) })?;
        if out.is_null() {
            return Err("leaky_relu: no tensor and no error (out of memory?)".into());
        }
        // SAFETY: on success `out` is a `new at::Tensor`, which tch's `Tensor` owns and deletes
        // on drop, as it does the tensors of its own C wrappers.
        Ok(unsafe { Tensor::from_ptr(out.cast()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernels are in (a build without them falls back silently but for one line), and
    /// LeakyReLU gives its definition's values and gradients.
    #[test]
    fn leaky_relu_matches_its_definition_and_gradient() {
        assert!(
            compiled(),
            "kernels.cpp was not compiled (see the build warnings)"
        );
        let x = Tensor::from_slice(&[-3.0f32, -0.5, 0.0, 0.25, 2.0])
            .view([1, 5])
            .set_requires_grad(true);
        let y = leaky_relu(&x, 0.2).unwrap();
        let want = [-0.6f32, -0.1, 0.0, 0.25, 2.0];
        assert_eq!(y.size(), [1, 5]);
        let got: Vec<f32> = y.view([-1]).try_into().unwrap();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-7, "{got:?} != {want:?}");
        }
        // d/dx of sum(c * y) is c where x > 0 and 0.2 c elsewhere.
        let c = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0]).view([1, 5]);
        (y * &c).sum(tch::Kind::Float).backward();
        let grad: Vec<f32> = x.grad().view([-1]).try_into().unwrap();
        let want = [0.2f32, 0.4, 0.6, 4.0, 5.0];
        for (g, w) in grad.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{grad:?} != {want:?}");
        }
        let e = leaky_relu(&Tensor::from_slice(&[1i64, -2]), 0.2).unwrap_err();
        assert!(e.to_string().contains("libtorch"), "{e}");
    }

    /// A fused Adam step on lists of different lengths is refused naming them.
    #[test]
    fn fused_adam_names_mismatched_lists() {
        let p = [Tensor::zeros([2], (tch::Kind::Float, tch::Device::Cpu))];
        let step = Tensor::ones([], (tch::Kind::Float, tch::Device::Cpu));
        let a = FusedAdam {
            lr: 1e-3,
            betas: [0.9, 0.999],
            eps: 1e-8,
            weight_decay: 0.0,
            adamw: false,
        };
        let e = a
            .step(&p, &[], &[&p[0]], &[&p[0]], &step)
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 parameters but 0 gradients"), "{e}");
    }
}
