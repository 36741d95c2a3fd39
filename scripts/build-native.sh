#!/usr/bin/env bash
# Builds and installs icssa's native core (native/: Rust, the Python module icssa_native) with
# maturin through pip. `--required`: fail when it cannot be built (the test suite compares the
# native and Python paths); without it, a machine with no Rust toolchain keeps the Python path
# and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

required=0
[ "${1:-}" = "--required" ] && required=1

[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
  if [ $required -eq 0 ]; then
    echo "icssa: no Rust toolchain (cargo): the native core is not built; replay runs on the Python path" >&2
    exit 0
  fi
  echo "installing Debian packages: cargo rustc" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends cargo rustc >/dev/null
fi

# rebuild only when the sources changed since the installed build
stamp=native/target/.installed
src_hash=$(find native -path native/target -prune -o -type f \( -name '*.rs' -o -name '*.toml' -o -name Cargo.lock \) -print0 \
  | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-40)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$src_hash" ] && python3 -c "import icssa_native" 2>/dev/null; then
  exit 0
fi
echo "building the native core (native/, Rust, release)" >&2
python3 -m pip install --disable-pip-version-check -q ./native/crates/py
mkdir -p native/target
echo "$src_hash" > "$stamp"
