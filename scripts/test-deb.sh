#!/usr/bin/env bash
# CI test of the Linux package, on this machine itself with dpkg (run as root; `make test` runs it):
#   build the .deb from the debug binaries → install → check users, folders, modes, conffile → put the mock
#   central service's certificates in /etc/oqs/central → start oqs-readerd from the installed files the way
#   the installed unit says (ExecStart=, User=, Group=, SupplementaryGroups=, UMask=, RuntimeDirectory=) →
#   a request file goes through the installed daemon → `oqs doctor` all pass (mock central + vpcd reader) →
#   `oqs status` → remove (data and configuration stay) → reinstall (configuration kept) → purge (all gone).
#
# Why dpkg on the CI machine rather than debootstrap: debootstrap downloads a whole base system on every run
# and systemd runs in neither place, so a fresh root would test nothing more of the package; installing here
# runs the same maintainer scripts, and the test purges the package at the end (also after a failure).
# Needs: the workspace's debug binaries (`cargo build --workspace --bins`), dpkg, pcscd, vsmartcard-vpcd,
# keyutils, util-linux (setpriv), curl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN="$ROOT/target/debug"
PKG=oqs-terminal
CONF=/etc/oqs/oqs-readerd.toml

[ "$(id -u)" -eq 0 ] || { echo "test-deb: must run as root (it installs a package)" >&2; exit 1; }
for b in oqs-mock-central oqs-readerd oqs; do
  [ -x "$BIN/$b" ] || { echo "test-deb: $BIN/$b is missing; run cargo build --workspace --bins" >&2; exit 1; }
done

exec 8>/tmp/oqs-test-deb.lock
flock 8

WORK="$(mktemp -d)"
CENTRAL_PID=""
DAEMON_PID=""
cleanup() {
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null || true
  [ -n "$CENTRAL_PID" ] && kill "$CENTRAL_PID" 2>/dev/null || true
  dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "installed\|config-files" && dpkg --purge "$PKG" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "test-deb: FAIL: $*" >&2; [ -f "$WORK/readerd.log" ] && tail -n 30 "$WORK/readerd.log" >&2; exit 1; }
step() { echo "test-deb: $*"; }
expect_stat() { # path "owner:group mode"
  local got; got="$(stat -c '%U:%G %a' "$1")"
  [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
}
wait_until() { # seconds description command...
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "timed out after ${secs}s waiting for $what"
    sleep 0.2
  done
}

# A leftover from an interrupted run of this test.
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "installed\|config-files"; then
  step "purging a leftover $PKG"
  dpkg --purge "$PKG" >/dev/null
fi

step "building the package"
started=$SECONDS
DEB="$(OQS_DEB_PROFILE=dev scripts/build-deb.sh 2>"$WORK/build.log" | tail -n 1)" || { cat "$WORK/build.log" >&2; fail "build-deb.sh failed"; }
step "built $DEB ($(stat -c %s "$DEB") bytes) in $((SECONDS - started)) s"

step "installing"
dpkg -i "$DEB" >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log" >&2; fail "dpkg -i"; }
[ -x /usr/bin/oqs-readerd ] && [ -x /usr/bin/oqs ] || fail "binaries not installed"
[ -x /usr/bin/oqs-terminal ] || fail "the app is not installed"
[ -f /usr/share/applications/oqs-terminal.desktop ] || fail "the app has no desktop entry"
grep -q '^Exec=/usr/bin/oqs-terminal' /usr/share/applications/oqs-terminal.desktop || fail "the desktop entry does not start the app"
[ -f /usr/share/icons/hicolor/512x512/apps/oqs-terminal.png ] || fail "the app has no icon"
! ldd /usr/bin/oqs-terminal | grep -q "not found" || fail "the app's libraries are missing: $(ldd /usr/bin/oqs-terminal | grep 'not found')"
dpkg-query -W -f='${Conffiles}' "$PKG" | grep -q "$CONF" || fail "$CONF is not a conffile"
getent passwd oqs >/dev/null || fail "no user oqs"
for g in oqs oqs-files oqs-users; do getent group "$g" >/dev/null || fail "no group $g"; done
expect_stat /var/lib/oqs "oqs:oqs-files 750"
for d in req res face; do expect_stat "/var/lib/oqs/$d" "oqs:oqs-files 2770"; done
expect_stat /var/lib/oqs/work "oqs:oqs-files 2700"
expect_stat /var/lib/oqs/keys "oqs:oqs 700"
expect_stat /etc/oqs/central "root:oqs 750"
[ -f /usr/lib/systemd/system/oqs-readerd.service ] || fail "no unit"

step "starting the mock central service and the virtual reader"
"$BIN/oqs-mock-central" init --dir "$WORK/central" --population 100 --seed 7 >/dev/null
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$BIN/oqs-mock-central" serve --dir "$WORK/central" --listen "127.0.0.1:$PORT" >"$WORK/central.log" 2>&1 &
CENTRAL_PID=$!
wait_until 30 "the mock central service" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null
scripts/pcscd-vpcd.sh start >/dev/null
FACILITY="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["facility_code"])' "$WORK/central/central.json")"

step "installing the terminal certificate and configuring the facility"
install -o root -g oqs -m 0640 "$WORK/central/ca.crt" /etc/oqs/central/ca.crt
install -o root -g oqs -m 0640 "$WORK/central/terminal.crt" /etc/oqs/central/terminal.crt
install -o root -g oqs -m 0640 "$WORK/central/terminal.key" /etc/oqs/central/terminal.key
sed -i -e "s/^medical_institution_code = .*/medical_institution_code = \"$FACILITY\"/" \
       -e "s#^url = .*#url = \"https://127.0.0.1:$PORT/\"#" "$CONF"

# What the installed unit says, applied by hand: systemd does not run here.
UNIT=/usr/lib/systemd/system/oqs-readerd.service
unit() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
EXEC="$(unit ExecStart)"; USER_="$(unit User)"; GROUP_="$(unit Group)"
GROUPS_="$(unit SupplementaryGroups | tr ' ' ',')"; UMASK_="$(unit UMask)"; RUNDIR="/run/$(unit RuntimeDirectory)"
getent group video >/dev/null || GROUPS_="${GROUPS_/,video/}"
as_service() { setpriv --reuid="$USER_" --regid="$GROUP_" --groups="$GROUPS_" --no-new-privs -- "$@"; }
install -d -o "$USER_" -g "$GROUP_" -m "$(unit RuntimeDirectoryMode)" "$RUNDIR"

step "starting the installed daemon: $EXEC (user $USER_, groups $GROUPS_, umask $UMASK_)"
# shellcheck disable=SC2086 # ExecStart is a command line
(umask "$UMASK_"; export OQS_LOG=info; exec setpriv --reuid="$USER_" --regid="$GROUP_" --groups="$GROUPS_" \
  --no-new-privs -- keyctl session - $EXEC) >"$WORK/readerd.log" 2>&1 &
DAEMON_PID=$!
wait_until 30 "oqs-readerd to start" grep -q "oqs-readerd started" "$WORK/readerd.log"
[ -f /var/lib/oqs/keys/store.key ] && expect_stat /var/lib/oqs/keys/store.key "oqs:oqs 600"
expect_stat /var/lib/oqs/work/facility.sqlite3 "oqs:oqs-files 600"

step "a request file through the installed daemon"
NAME="OQSsiquc01req_20261122000000001.xml"
cat >"$WORK/$NAME" <<XML
<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<XmlMsg><MessageHeader><QualificationConfirmationDate>20261121</QualificationConfirmationDate><MedicalInstitutionCode>$FACILITY</MedicalInstitutionCode><ArbitraryFileIdentifier>debtest1</ArbitraryFileIdentifier></MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>06139992</InsurerNumber><InsuredIdentificationNumber>4260</InsuredIdentificationNumber><Birthdate>20010327</Birthdate><LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg></QualificationConfirmSearchInfo></MessageBody></XmlMsg>
XML
# As the receipt computer does it: a member of oqs-files writes a temporary name, then renames.
setpriv --reuid=nobody --regid=oqs-files --clear-groups -- sh -c \
  "umask 0007; cat >/var/lib/oqs/req/$NAME.tmp && mv /var/lib/oqs/req/$NAME.tmp /var/lib/oqs/req/$NAME" <"$WORK/$NAME"
RES="/var/lib/oqs/res/${NAME/req_/res_}"
wait_until 30 "the result $RES" test -f "$RES"
expect_stat "$RES" "oqs:oqs-files 660"

step "oqs doctor as the service user"
echo "a long admin passphrase" | as_service /usr/bin/oqs account create-admin --config "$CONF" --login admin >/dev/null
set +e
as_service /usr/bin/oqs doctor --config "$CONF" >"$WORK/doctor.txt" 2>&1
code=$?
set -e
cat "$WORK/doctor.txt"
[ "$code" -eq 0 ] || fail "oqs doctor exited $code"
grep -q "\[FAIL\]" "$WORK/doctor.txt" && fail "oqs doctor reported a failure"

step "oqs status over the installed socket and token file"
as_service /usr/bin/oqs status --config "$CONF" >"$WORK/status.json" 2>"$WORK/status.txt" || { cat "$WORK/status.txt" >&2; fail "oqs status"; }
cat "$WORK/status.txt"
grep -q "last central contact: 20" "$WORK/status.txt" || fail "oqs status shows no central contact"
grep -q '"uptime_secs"' "$WORK/status.json" || fail "oqs status JSON"

step "backup of the live store"
as_service /usr/bin/oqs store backup --config "$CONF" --to /var/lib/oqs/work/backup.sqlite3 >/dev/null
expect_stat /var/lib/oqs/work/backup.sqlite3 "oqs:oqs-files 600"

kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || true; DAEMON_PID=""

step "remove: data and configuration stay"
dpkg -r "$PKG" >/dev/null
[ ! -e /usr/bin/oqs-readerd ] || fail "binary left after remove"
[ -f /var/lib/oqs/work/facility.sqlite3 ] || fail "the store was deleted by remove"
[ -f "$RES" ] || fail "results were deleted by remove"
[ -f /etc/oqs/central/terminal.key ] || fail "the certificate was deleted by remove"
grep -q "$FACILITY" "$CONF" || fail "the configuration was lost on remove"

step "reinstall: configuration kept"
dpkg -i "$DEB" >/dev/null
grep -q "$FACILITY" "$CONF" || fail "the configuration was replaced on reinstall"
[ -f /var/lib/oqs/work/facility.sqlite3 ] || fail "the store was lost on reinstall"

step "purge: everything gone"
dpkg --purge "$PKG" >/dev/null
for p in /var/lib/oqs /etc/oqs /usr/bin/oqs; do [ ! -e "$p" ] || fail "$p left after purge"; done
step "ok"
