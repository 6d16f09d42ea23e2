#!/bin/sh
# docker-compose.yml's deployer (the publisher, once): deploys the Lottery contract,
# sets the betting duration, hands the contract address to enclave-app (a settings
# file on a shared volume; enclave-app waits for it through its health check), then
# sets the operator the way a publisher must: from the enclave's verified attestation
# (`lottery set-operator --from-attestation --fund`, simulated CA), which also gives
# the attested operator its gas money.
#
# Environment (docker-compose.yml sets all of it):
#   LOTTERY_RPC_URL    the chain (anvil)
#   PUBLISHER_KEY      deploys and sets the operator (anvil's development key 0)
#   SETUP_KEY          operator while the settings are made (anvil's development key 1)
#   WEB_URL            host-proxy's web API, which relays attestation requests
#   SIM_ROOT           enclave-app's simulated CA file (its first certificate is the root)
#   SETTINGS_FILE      where enclave-app's settings go
#   BETTING_DURATION   seconds of betting per round
set -eu

log() { printf 'deployer: %s\n' "$*" >&2; }
# retry SECONDS FAILURE COMMAND...: runs COMMAND every second until it succeeds; exits
# with "FAILURE within SECONDS s" when it never does.
retry() {
  limit="$1" failure="$2"
  shift 2
  tries=0
  until "$@"; do
    tries=$((tries + 1))
    if [ "$tries" -gt "$limit" ]; then
      log "$failure within $limit s"
      exit 1
    fi
    sleep 1
  done
}
: "${LOTTERY_RPC_URL:?}" "${PUBLISHER_KEY:?}" "${SETUP_KEY:?}" "${WEB_URL:?}"
: "${SIM_ROOT:?}" "${SETTINGS_FILE:?}" "${BETTING_DURATION:=60}"
export LOTTERY_RPC_URL

# A file from an earlier run would release enclave-app before this run's contract exists.
rm -f "$SETTINGS_FILE"

# Operator changes take effect this many seconds after their announcement (a day by
# default on a real deployment; a few seconds for local development).
OPERATOR_DELAY=3
contract="$(LOTTERY_PRIVATE_KEY="$PUBLISHER_KEY" lottery deploy --operator-delay "$OPERATOR_DELAY")"
log "deployed Lottery at $contract (operator delay $OPERATOR_DELAY s)"
# Settings are the operator's to change: a setup operator makes them, then hands over.
# The setup key is no enclave; the measurement it is announced with (all 0xff) says so.
setup="$(cast wallet address --private-key "$SETUP_KEY")"
NOT_AN_ENCLAVE=ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
LOTTERY_PRIVATE_KEY="$PUBLISHER_KEY" lottery set-operator --contract "$contract" --operator "$setup" \
  --pcr0 "$NOT_AN_ENCLAVE" >/dev/null
# It may act once the delay has passed: retry the settings until then.
set_duration() {
  LOTTERY_PRIVATE_KEY="$SETUP_KEY" lottery config --contract "$contract" --betting-duration "$BETTING_DURATION" >/dev/null 2>&1
}
retry 30 "the setup operator could not change the settings" set_duration
log "betting duration set to $BETTING_DURATION s"

printf '# Written by the deployer (docker-compose.yml).\ncontract = "%s"\n' "$contract" >"$SETTINGS_FILE.tmp"
mv "$SETTINGS_FILE.tmp" "$SETTINGS_FILE"
log "enclave-app's settings written to $SETTINGS_FILE; waiting for its attestation through $WEB_URL"

attested() {
  [ -s "$SIM_ROOT" ] && attest --json verify --url "$WEB_URL" --allow-simulated --root-cert "$SIM_ROOT" >/tmp/attested.json 2>/dev/null
}
retry 180 "no verified attestation from $WEB_URL" attested
# The image measurement to record: this development stack trusts the enclave-app
# container it started (a real publisher pins the PCR0 published for the release).
pcr0="$(sed -n 's/.*"0": *"\([0-9a-f]\{96\}\)".*/\1/p' /tmp/attested.json | head -1)"
[ -n "$pcr0" ] || { log "the attestation report names no PCR0"; exit 1; }
# Nothing is sent unless the document verifies and names this chain and contract;
# then the attested operator gets gas money (10 ETH) and is announced; it takes over
# after the operator delay.
LOTTERY_PRIVATE_KEY="$PUBLISHER_KEY" lottery set-operator --contract "$contract" \
  --from-attestation "$WEB_URL" --allow-simulated --root-cert "$SIM_ROOT" \
  --expected-pcr "0=$pcr0" --fund 10
log "done: the lottery is live at $WEB_URL (published on http://127.0.0.1:6080/)"
