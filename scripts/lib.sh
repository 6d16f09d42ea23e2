# Shared helpers for scripts/*. Source it; do not run it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="$ROOT/.tools"
export PATH="$TOOLS_DIR/bin:$PATH"

# The pinned versions live in scripts/tools/package.json (and its lockfile).
ANVIL_VERSION="1.7.1"
SOLC_VERSION="0.8.30"

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
