#!/usr/bin/env bash
# genzoo setup: one command, idempotent.
# Creates a project-local Python virtual environment (.venv) holding PyPI's torch==2.11.0
# (the libtorch that tch 0.24 expects), and points the `.libtorch` link at it, so that
# plain `cargo build`, `cargo test` and `cargo xtask ...` work from any new shell.
set -euo pipefail
TORCH_VERSION="2.11.0"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

py="${PYTHON:-python3}"
if ! command -v "$py" >/dev/null 2>&1; then
  echo "genzoo setup: no python3 on PATH: install Python 3.9+ (e.g. apt-get install python3 python3-venv) and rerun scripts/setup.sh" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "genzoo setup: creating .venv"
  "$py" -m venv .venv || { echo "genzoo setup: '$py -m venv' failed: install python3-venv and rerun scripts/setup.sh" >&2; exit 1; }
fi

have="$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null || true)"
if [ "${have%%+*}" != "$TORCH_VERSION" ]; then
  echo "genzoo setup: installing torch==$TORCH_VERSION into .venv (about 2 minutes and 5 GB)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION" numpy
else
  echo "genzoo setup: .venv already holds torch $have"
fi

# .libtorch holds links to the wheel's include/ and lib/ plus its version, which tch's build
# script (LIBTORCH, set in .cargo/config.toml) and scripts/cxx check.
read -r torch_dir torch_version < <(.venv/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__), torch.__version__)')
[ -L .libtorch ] && rm -f .libtorch
mkdir -p .libtorch
ln -sfn "$torch_dir/include" .libtorch/include
ln -sfn "$torch_dir/lib" .libtorch/lib
printf '%s\n' "$torch_version" > .libtorch/build-version.tmp && mv .libtorch/build-version.tmp .libtorch/build-version
echo "genzoo setup: .libtorch -> $torch_dir (torch $torch_version)"
echo "genzoo setup: done. Run the tests with: cargo test --workspace"
