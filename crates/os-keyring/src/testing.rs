//! Test support: run one test inside a fresh keyutils session keyring, so tests use the real kernel store
//! without touching the keys of whoever runs them.
//!
//! The test calls [`in_keyutils_session`] first. Outside a session the call re-runs the same test binary,
//! filtered to that one test, under `keyctl session -` (package `keyutils`) and returns `false` after checking
//! that the child passed; inside the child it returns `true` and the test body runs.

use std::process::Command;

const MARKER: &str = "OQS_TEST_IN_KEYUTILS_SESSION";

/// Returns `true` when the caller is inside its own keyutils session and should run the test body; otherwise
/// runs the test `test_name` (its full path as libtest names it) in a child under `keyctl session -`, panics
/// if the child failed or `keyctl` is missing, and returns `false`.
pub fn in_keyutils_session(test_name: &str) -> bool {
    in_keyutils_session_under(test_name, &[])
}

/// Like [`in_keyutils_session`], with the child started through `wrapper` (e.g. `["dbus-run-session", "--"]`
/// to give it a private D-Bus session too).
pub fn in_keyutils_session_under(test_name: &str, wrapper: &[&str]) -> bool {
    if std::env::var_os(MARKER).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("path of the running test binary");
    let (program, leading) = match wrapper.split_first() {
        Some((program, rest)) => (*program, [rest, &["keyctl"]].concat()),
        None => ("keyctl", Vec::new()),
    };
    let output = Command::new(program)
        .args(leading)
        .args(["session", "-"])
        .arg(exe)
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(MARKER, "1")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{program}` ({e}); install it with `apt-get install -y keyutils dbus`"
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "test {test_name} failed inside its keyutils session:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "test {test_name} did not run inside its keyutils session (wrong name?):\n{stdout}"
    );
    // Figures a test reports (`figure: …` lines on stderr) reach the outer run's output.
    for line in stderr.lines().filter(|l| l.starts_with("figure: ")) {
        eprintln!("{line}");
    }
    false
}
