// genzoo's C++: the ATen kernels tch 0.24 does not bind, behind one C interface. Each function
// takes tch's `at::Tensor*` handles, catches every exception, and returns nullptr or an error
// message that the caller frees with genzoo_free_error (the one error protocol; see mod.rs).
// Per-operator headers keep the compile short.
#include <ATen/core/Tensor.h>
#include <ATen/ops/_fused_adam.h>
#include <ATen/ops/_fused_adamw.h>
#include <ATen/ops/leaky_relu.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

namespace {
char *error_of(const std::exception &e) { return strdup(e.what()); }
char *unknown_error() { return strdup("unknown C++ exception"); }
} // namespace

extern "C" {

// PyTorch's fused Adam and AdamW kernels (at::_fused_adam_, at::_fused_adamw_: Kingma & Ba 2015,
// Algorithm 1; Loshchilov & Hutter 2019 for AdamW's decoupled weight decay), one pass over each
// parameter's memory. Updates params[i] in place from grads[i], with exp_avgs[i] (m) and
// exp_avg_sqs[i] (v), all `n` of them on one device and dtype; `step` is a 0-dim float tensor
// holding the step count t (1 on the first step). adamw != 0 decays the weights decoupled
// (AdamW), else weight_decay adds to the gradient (L2, torch.optim.Adam).
char *genzoo_fused_adam(at::Tensor **params, at::Tensor **grads, at::Tensor **exp_avgs,
                        at::Tensor **exp_avg_sqs, at::Tensor *step, int64_t n, double lr,
                        double beta1, double beta2, double weight_decay, double eps,
                        int adamw) {
  try {
    std::vector<at::Tensor> p, g, m, v, s;
    for (int64_t i = 0; i < n; ++i) {
      p.push_back(*params[i]);
      g.push_back(grads[i]->contiguous());
      m.push_back(*exp_avgs[i]);
      v.push_back(*exp_avg_sqs[i]);
      s.push_back(*step);
    }
    std::vector<at::Tensor> none;
    if (adamw) {
      at::_fused_adamw_(p, g, m, v, none, s, lr, beta1, beta2, weight_decay, eps, false, false);
    } else {
      at::_fused_adam_(p, g, m, v, none, s, lr, beta1, beta2, weight_decay, eps, false, false);
    }
    return nullptr;
  } catch (const std::exception &e) {
    return error_of(e);
  } catch (...) {
    return unknown_error();
  }
}

// LeakyReLU with a chosen slope through ATen's own kernel (at::leaky_relu; Maas et al. 2013,
// slope 0.2 in DCGAN, Radford et al. 2016, sec. 3), which tch binds only with the default slope
// 0.01. Writes a new tensor, recorded by autograd like any ATen op, to *out (owned by tch).
char *genzoo_leaky_relu(const at::Tensor *x, double slope, at::Tensor **out) {
  *out = nullptr;
  try {
    *out = new at::Tensor(at::leaky_relu(*x, slope));
    return nullptr;
  } catch (const std::exception &e) {
    return error_of(e);
  } catch (...) {
    return unknown_error();
  }
}

void genzoo_free_error(char *e) { std::free(e); }
}
