// genzoo-train's one C++ function: PyTorch's fused Adam and AdamW kernels (at::_fused_adam_,
// at::_fused_adamw_: Kingma & Ba 2015, Algorithm 1; Loshchilov & Hutter 2019 for AdamW's
// decoupled weight decay), one pass over each parameter's memory, which tch 0.24 does not bind.
// Called from optim.rs through `genzoo_fused_adam`; tensors are tch's `at::Tensor*` handles.
#include <ATen/ATen.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

extern "C" {

// Updates params[i] in place from grads[i], with exp_avgs[i] (m) and exp_avg_sqs[i] (v), all
// `n` of them on one device and dtype; `step` is a 0-dim float tensor holding the step count t
// (1 on the first step). adamw != 0 decays the weights decoupled (AdamW), else weight_decay adds
// to the gradient (L2, torch.optim.Adam). Returns nullptr, or an error message to free with
// genzoo_free_error.
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
    return strdup(e.what());
  } catch (...) {
    return strdup("unknown C++ exception");
  }
}

void genzoo_free_error(char *e) { std::free(e); }
}
