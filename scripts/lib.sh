# Shared helpers for scripts/*. Source it; do not run it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="$ROOT/.tools"
export PATH="$TOOLS_DIR/bin:$PATH"

# The pinned versions live in scripts/tools/package.json (and its lockfile).
ANVIL_VERSION="1.7.1"
SOLC_VERSION="0.8.30"

# Cargo's target directory (CARGO_TARGET_DIR or the workspace's), as cargo reports it,
# of the root workspace or of the workspace whose manifest is given (eif/Cargo.toml).
# Without cargo (a Nitro parent that only runs the image), CARGO_TARGET_DIR or target/.
target_dir() {
  local manifest="${1:-$ROOT/Cargo.toml}"
  if ! command -v cargo >/dev/null; then
    printf '%s\n' "${CARGO_TARGET_DIR:-$(dirname "$manifest")/target}"
    return 0
  fi
  cargo metadata --format-version 1 --no-deps --manifest-path "$manifest" |
    node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))'
}

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install anvil and solc-js from npm into .tools/ (git-ignored), only when the
# installed versions differ from the pinned ones. Safe to call repeatedly.
ensure_tools() {
  command -v node >/dev/null || die "node is required (Node.js 20+); install it first"
  command -v npm >/dev/null || die "npm is required; install it with Node.js"
  local stamp="$TOOLS_DIR/.installed"
  local want
  want="$(cat "$ROOT/scripts/tools/package.json" "$ROOT/scripts/tools/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$TOOLS_DIR/bin/anvil" ]]; then
    return 0
  fi
  log "installing pinned tools into .tools/ (anvil $ANVIL_VERSION, solc $SOLC_VERSION)"
  mkdir -p "$TOOLS_DIR/bin"
  cp "$ROOT/scripts/tools/package.json" "$ROOT/scripts/tools/package-lock.json" "$TOOLS_DIR/"
  # --ignore-scripts: the anvil package's postinstall only re-links the platform
  # binary, which already ships in the optional per-platform package.
  # `npm install` (not `npm ci`): npm 11 leaves the other platforms' optional
  # anvil packages out of the lockfile and `npm ci` then refuses it. The versions
  # are still exact: package.json pins them and the lockfile pins the rest.
  local out
  if ! out="$(cd "$TOOLS_DIR" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "npm install failed in .tools/ (is the npm registry reachable?)"
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "unsupported architecture $(uname -m) for the anvil npm package" ;;
  esac
  local os
  os="$(uname -s | tr '[:upper:]' '[:lower:]')"
  local anvil="$TOOLS_DIR/node_modules/@foundry-rs/anvil-$os-$arch/bin/anvil"
  [[ -x "$anvil" ]] || die "anvil binary missing at $anvil"
  ln -sf "$anvil" "$TOOLS_DIR/bin/anvil"
  ln -sf "$TOOLS_DIR/node_modules/.bin/solcjs" "$TOOLS_DIR/bin/solcjs"
  local got
  got="$("$TOOLS_DIR/bin/anvil" --version | head -1)"
  [[ "$got" == *"$ANVIL_VERSION"* ]] || die "expected anvil $ANVIL_VERSION, got: $got"
  echo "$want" >"$stamp"
  log "tools ready: $got, solc $("$TOOLS_DIR/bin/solcjs" --version)"
}

# The enclave binary's target: static (musl), so the enclave image needs nothing
# besides the binary.
MUSL_TARGET="x86_64-unknown-linux-musl"

# Makes the static musl build possible: the Rust target (rustup) and musl-gcc, which
# `ring` compiles its C and assembly with (Debian's musl-tools, installed with
# apt-get when running as root). Safe to call repeatedly.
ensure_musl() {
  if ! rustup target list --installed | grep -qx "$MUSL_TARGET"; then
    log "adding the Rust target $MUSL_TARGET"
    rustup target add "$MUSL_TARGET"
  fi
  command -v musl-gcc >/dev/null && return 0
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing musl-tools (musl-gcc) with apt-get"
    apt-get install -y --no-install-recommends musl-tools >/dev/null 2>&1 \
      || { apt-get update >/dev/null && apt-get install -y --no-install-recommends musl-tools >/dev/null; } \
      || die "apt-get install musl-tools failed"
  else
    die "musl-gcc is missing: install musl-tools (Debian/Ubuntu: sudo apt-get install musl-tools)"
  fi
}

# OpenSSL's headers and pkg-config, which eif/ (the Docker-free EIF builder) needs:
# AWS's aws-nitro-enclaves-image-format crate links OpenSSL through openssl-sys. Only
# eif/ does; the main workspace never links OpenSSL. Debian's libssl-dev and
# pkg-config, installed with apt-get when missing (as root, or through sudo). Safe to
# call repeatedly.
ensure_openssl_dev() {
  command -v pkg-config >/dev/null && pkg-config --exists openssl && return 0
  command -v apt-get >/dev/null ||
    die "OpenSSL's headers are missing: install libssl-dev and pkg-config (or openssl-devel and pkgconf)"
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null ||
      die "OpenSSL's headers are missing; install them as root: apt-get install libssl-dev pkg-config"
    sudo=(sudo)
  fi
  log "installing libssl-dev and pkg-config with apt-get (eif/ links OpenSSL)"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libssl-dev pkg-config >/dev/null 2>&1 \
    || { "${sudo[@]}" apt-get update -qq >/dev/null &&
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libssl-dev pkg-config >/dev/null; } \
    || die "apt-get install libssl-dev pkg-config failed"
  pkg-config --exists openssl || die "apt-get installed libssl-dev, but pkg-config does not find openssl"
}

# A virtualenv .tools/NAME-venv holding the PyPI packages pinned in
# scripts/tools/NAME-requirements.txt (with all their dependencies, so --no-deps),
# installed only when the pins changed. WHAT names them in messages. Prints the
# venv's bin directory.
ensure_venv() {
  local name="$1" what="$2"
  local venv="$TOOLS_DIR/$name-venv"
  local req="$ROOT/scripts/tools/$name-requirements.txt"
  local want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [[ -f "$venv/.installed" && "$(cat "$venv/.installed")" == "$want" ]]; then
    echo "$venv/bin"
    return 0
  fi
  command -v python3 >/dev/null || die "python3 is required for $what"
  log "installing $what into .tools/$name-venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  local out
  if ! out="$("$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$req" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "pip install of $what failed (is PyPI reachable?)"
  fi
  echo "$want" >"$venv/.installed"
  echo "$venv/bin"
}

# The packaging linters (hadolint, check-jsonschema with the compose-spec schema, and
# the shell script linter), pinned in scripts/tools/packaging-requirements.txt.
# Prints the venv's bin directory.
ensure_packaging_tools() {
  ensure_venv packaging "the packaging linters (hadolint, check-jsonschema, shellcheck)"
}

# schemathesis (the web API's conformance test against its OpenAPI document, in
# tests/tests/it/processes/openapi_conformance.rs), pinned with its dependencies in
# scripts/tools/schemathesis-requirements.txt. Needs Python 3.11+. Prints the
# schemathesis executable.
ensure_schemathesis() {
  command -v python3 >/dev/null || die "python3 (3.11+) is required for schemathesis"
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "schemathesis needs Python 3.11+, not $(python3 --version)"
  local bin
  bin="$(ensure_venv schemathesis "schemathesis ($(grep -m1 '^schemathesis==' "$ROOT/scripts/tools/schemathesis-requirements.txt"))")" ||
    exit 1
  echo "$bin/schemathesis"
}
