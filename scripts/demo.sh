#!/usr/bin/env bash
# The demo (`make demo`): the mock central service, a private pcscd with the virtual reader, a few virtual
# My Number Cards, and the reader daemon, all on this machine, in ./.demo (kept between runs).
#
# It builds the binaries, initialises the mock central service on the first run (1,000 people, cards linked),
# starts everything, opens the app (reception window with a developer panel to insert virtual cards, and the
# kiosk window) when there is a display, and prints what to try. Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DEMO="$ROOT/.demo"
PORT="${OQS_DEMO_PORT:-8443}"
mkdir -p "$DEMO"

echo "demo: building (first time takes a few minutes)…"
cargo build -q --workspace --bins
BIN="$ROOT/target/debug"

if [[ ! -f "$DEMO/cards/card-0001.toml" ]]; then
  echo "demo: issuing virtual cards into .demo/cards"
  "$BIN/oqs-virtual-card" issue --out "$DEMO/cards" --count 8 --seed 1 --variant mixed
fi
if [[ ! -f "$DEMO/central/central.json" ]]; then
  echo "demo: initialising the mock central service into .demo/central"
  "$BIN/oqs-mock-central" init --dir "$DEMO/central" --population 1000 --seed 1 --cards "$DEMO/cards"
fi
FACILITY=$(sed -n 's/.*"facility_code": *"\([0-9]*\)".*/\1/p' "$DEMO/central/central.json")

cat >"$DEMO/oqs-readerd.toml" <<EOF
[facility]
medical_institution_code = "$FACILITY"
[folders]
req = "req"
res = "res"
face = "face"
work = "work"
[central]
url = "https://127.0.0.1:$PORT/"
ca_cert = "central/ca.crt"
terminal_cert = "central/terminal.crt"
terminal_key = "central/terminal.key"
[relay]
rescan_interval_ms = 2000
settle_ms = 500
EOF

pids=()
cleanup() {
  echo; echo "demo: stopping"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/pcscd-vpcd.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

scripts/pcscd-vpcd.sh start
"$BIN/oqs-mock-central" serve --dir "$DEMO/central" --listen "127.0.0.1:$PORT" >"$DEMO/central.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done

# The daemon keeps its keys in a named keyutils session keyring for the demo (a desktop login would use Secret
# Service); the `oqs` client joins the same keyring by name to read the socket token.
keyctl session oqs-demo "$BIN/oqs-readerd" --config "$DEMO/oqs-readerd.toml" >"$DEMO/readerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q "oqs-readerd started" "$DEMO/readerd.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "oqs-readerd started" "$DEMO/readerd.log" || { cat "$DEMO/readerd.log"; exit 1; }

# The app: reception (with the developer card panel) and the kiosk screen, in the daemon's keyring.
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  export OQS_SOCKET="$DEMO/run/oqs-readerd.sock" OQS_CONFIG="$DEMO/oqs-readerd.toml"
  export OQS_DEV_CARDS="$DEMO/cards" OQS_DEV_VPCD_PORT=40100
  keyctl session oqs-demo "$BIN/oqs-terminal" >"$DEMO/app.log" 2>&1 &
  pids+=($!)
  keyctl session oqs-demo "$BIN/oqs-terminal" --kiosk >"$DEMO/kiosk.log" 2>&1 &
  pids+=($!)
  APP_NOTE="The app is open: the reception window (開発用 panel at the bottom inserts a virtual card) and the kiosk."
else
  APP_NOTE="No display: the app was not opened (run make demo in a desktop session, or use the terminal steps below)."
fi

# One request right away, so there is something to look at.
ID="demo$(date +%H%M%S)"
cat >"$DEMO/req/OQSsiquc01req_$ID.xml.tmp" <<EOF
<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<XmlMsg><MessageHeader><QualificationConfirmationDate>$(date +%Y%m%d)</QualificationConfirmationDate>
<MedicalInstitutionCode>$FACILITY</MedicalInstitutionCode><ArbitraryFileIdentifier>$ID</ArbitraryFileIdentifier>
</MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>06139992</InsurerNumber>
<InsuredIdentificationNumber>4260</InsuredIdentificationNumber><Birthdate>20010327</Birthdate>
<LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>
</QualificationConfirmSearchInfo></MessageBody></XmlMsg>
EOF
mv "$DEMO/req/OQSsiquc01req_$ID.xml.tmp" "$DEMO/req/OQSsiquc01req_$ID.xml"
for _ in $(seq 1 100); do [[ -f "$DEMO/res/OQSsiquc01res_$ID.xml" ]] && break; sleep 0.1; done

cat <<EOF

demo: running. Mock central https://127.0.0.1:$PORT (facility $FACILITY), pcscd with the virtual reader,
      oqs-readerd with its folders in .demo/ (logs: .demo/central.log, .demo/readerd.log, .demo/app.log).

  $APP_NOTE

  A request was dropped and answered:
    $BIN/oqs file inspect .demo/res/OQSsiquc01res_$ID.xml

  Drop your own request (any sample under tests/data/oqs/valid/, with MedicalInstitutionCode $FACILITY)
  into .demo/req/ and its result appears in .demo/res/; a malformed one gets a .err file there.

  Walk a patient through a check-in at the kiosk, from a second terminal:
    1. insert a virtual card (Ctrl-C there removes it; PINs are in .demo/cards/card-0001.toml):
         $BIN/oqs-virtual-card serve --profile .demo/cards/card-0001.toml --port 40100
    2. answer the kiosk screen as the patient (the client joins the daemon's keyring "oqs-demo"):
         export OQS_SOCKET=$DEMO/run/oqs-readerd.sock
         keyctl session oqs-demo $BIN/oqs status                # readers and what each kiosk shows now
         keyctl session oqs-demo $BIN/oqs kiosk method pin
         keyctl session oqs-demo $BIN/oqs kiosk pin              # type the PIN on stdin
         keyctl session oqs-demo $BIN/oqs kiosk consent yes      # once per consent screen
         keyctl session oqs-demo $BIN/oqs checkins               # today's check-ins; the file is in .demo/face/
    3. watch everything as JSON lines:  keyctl session oqs-demo $BIN/oqs watch

Press Ctrl-C to stop everything.
EOF
wait
