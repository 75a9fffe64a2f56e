// genzoo-gan's one C++ function: LeakyReLU with a chosen slope through ATen's own kernel
// (at::leaky_relu; Maas et al. 2013, slope 0.2 in DCGAN, Radford et al. 2016, sec. 3), which tch
// 0.24 binds only with PyTorch's default slope of 0.01. Called from nets.rs through
// `genzoo_leaky_relu`; tensors are tch's `at::Tensor*` handles. Per-operator headers keep the
// compile short.
#include <ATen/core/Tensor.h>
#include <ATen/ops/leaky_relu.h>

#include <cstdlib>
#include <cstring>
#include <exception>

extern "C" {

// Writes a new tensor leaky_relu(x, slope), recorded by autograd like any ATen op, to *out (to
// be freed by tch as its own tensors are). Returns nullptr, or an error message to free with
// genzoo_gan_free_error.
char *genzoo_leaky_relu(const at::Tensor *x, double slope, at::Tensor **out) {
  *out = nullptr;
  try {
    *out = new at::Tensor(at::leaky_relu(*x, slope));
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  } catch (...) {
    return strdup("unknown C++ exception");
  }
}

void genzoo_gan_free_error(char *e) { std::free(e); }
}
