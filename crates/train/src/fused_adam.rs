//! PyTorch's fused Adam and AdamW kernels (`at::_fused_adam_`, `at::_fused_adamw_`; Kingma & Ba
//! 2015, Algorithm 1; Loshchilov & Hutter 2019 for AdamW), reached through `fused_adam.cpp`,
//! which `build.rs` compiles against libtorch's headers (tch 0.24 binds neither kernel). One pass
//! over each parameter's memory instead of the eight elementwise kernels of
//! [`crate::optim`]'s own update (on 785,284 floats and 2 cores, a PyTorch probe timed those eight
//! kernels at 5.3 ms per update and the fused kernel at 1.7-3.0 ms; `bench made` went from 0.59x
//! to 1.18x of PyTorch). Where the C++ file was not built ([`available`] false) the
//! optimizer keeps its own update.
use tch::Tensor;

/// Whether the fused kernels were compiled in (cfg `genzoo_fused_adam`, set by `build.rs`).
pub fn available() -> bool {
    cfg!(genzoo_fused_adam)
}

/// One Adam (or, with `adamw`, AdamW) step of PyTorch's fused kernel.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(genzoo_fused_adam), allow(dead_code))] // read only by the kernel's call
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
    /// The kernel's message (mismatched lengths, dtypes or devices), or a note that the kernel was
    /// not compiled in.
    pub fn step(
        &self,
        params: &[Tensor],
        grads: &[Tensor],
        m: &[&Tensor],
        v: &[&Tensor],
        step: &Tensor,
    ) -> Result<(), String> {
        let n = params.len();
        if grads.len() != n || m.len() != n || v.len() != n {
            return Err(format!(
                "fused Adam: {n} parameters but {} gradients, {} and {} moments",
                grads.len(),
                m.len(),
                v.len()
            ));
        }
        #[cfg(genzoo_fused_adam)]
        return imp::step(
            self,
            [
                params.iter().collect(),
                grads.iter().collect(),
                m.to_vec(),
                v.to_vec(),
            ],
            step,
        );
        #[cfg(not(genzoo_fused_adam))]
        {
            let _ = step;
            Err("fused Adam was not compiled in (no libtorch headers at build time)".into())
        }
    }
}

#[cfg(genzoo_fused_adam)]
#[allow(unsafe_code)] // the FFI call into fused_adam.cpp; every pointer is a live tch tensor
mod imp {
    use super::FusedAdam;
    use std::ffi::{c_char, c_int, c_void, CStr};
    use tch::Tensor;

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
        fn genzoo_free_error(e: *mut c_char);
    }

    fn handle(t: &Tensor) -> *mut c_void {
        t.as_ptr() as *mut c_void
    }

    /// The kernel's call on `[params, grads, exp_avgs, exp_avg_sqs]` (checked to be of one
    /// length by the caller).
    pub(super) fn step(
        a: &FusedAdam,
        lists: [Vec<&Tensor>; 4],
        step: &Tensor,
    ) -> Result<(), String> {
        let [p, g, m, v] = lists.map(|l| l.into_iter().map(handle).collect::<Vec<_>>());
        // SAFETY: each pointer is the `at::Tensor*` of a tensor borrowed for this call, the
        // arrays hold `p.len()` entries, and the C++ side copies the handles before use and
        // catches every exception.
        let err = unsafe {
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
        };
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
}
