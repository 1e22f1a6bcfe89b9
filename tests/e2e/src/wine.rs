//! The project's Windows programs (`make windows`: `target/x86_64-pc-windows-gnu/debug/*.exe`) under Wine.
//!
//! Each [`Wine`] is a fresh prefix (its own registry, so its own Credential Manager, and its own wineserver,
//! so its own named pipes) in a temporary folder, removed with it. Wine 8.0 lacks `ProcessPrng`
//! (`bcryptprimitives.dll`), which Rust's standard library calls at every start; the test shim in
//! `tests/windows/processprng.c` is compiled here with mingw-w64 into the prefix's `system32`, never into a
//! package. A missing Wine, compiler or `.exe` is a failure that says what to install or build, never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::{wait_for, workspace};

/// The Rust target of the Windows build.
pub const TARGET: &str = "x86_64-pc-windows-gnu";

pub struct Wine {
    pub prefix: PathBuf,
    wine: PathBuf,
    exes: PathBuf,
    _tmp: tempfile::TempDir,
}

/// The first of `candidates` that exists, else the name looked up on `PATH`.
fn find(candidates: &[&str], name: &str) -> PathBuf {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

impl Wine {
    /// A new prefix, booted, with the shim in place.
    pub fn start() -> Arc<Self> {
        let exes = windows_bin_dir();
        let tmp = tempfile::tempdir().expect("temp dir");
        let prefix = tmp.path().join("prefix");
        let wine = Self {
            prefix,
            wine: find(&["/usr/lib/wine/wine64", "/usr/bin/wine64"], "wine64"),
            exes,
            _tmp: tmp,
        };
        let out = wine
            .program(Path::new("wineboot"))
            .arg("--init")
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} (install Debian's wine64; `make setup` does): {e}",
                    wine.wine.display()
                )
            });
        assert!(
            out.status.success(),
            "wineboot failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let system32 = wine.prefix.join("drive_c/windows/system32");
        wait_for(
            "the Wine prefix's system32",
            Duration::from_secs(60),
            || system32.is_dir().then_some(()),
        );
        let shim = workspace().join("tests/windows");
        let out = Command::new("x86_64-w64-mingw32-gcc")
            .args(["-O2", "-shared", "-o"])
            .arg(system32.join("bcryptprimitives.dll"))
            .arg(shim.join("processprng.c"))
            .arg(shim.join("processprng.def"))
            .arg("-ladvapi32")
            .output()
            .expect("run x86_64-w64-mingw32-gcc (install Debian's mingw-w64; `make setup` does)");
        assert!(
            out.status.success(),
            "the ProcessPrng shim did not build: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Arc::new(wine)
    }

    /// The Windows program at `program` (a Unix path, or the name of one of Wine's own programs).
    pub fn program(&self, program: &Path) -> Command {
        let mut cmd = Command::new(&self.wine);
        cmd.arg(program)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            // No Mono or Gecko installer prompts, no window.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        cmd
    }

    /// One of Wine's own programs (`sc`, `reg`, …).
    pub fn system_command(&self, name: &str) -> Command {
        self.program(Path::new(name))
    }

    /// `wine64 <name>.exe` of the Windows build.
    pub fn command(&self, name: &str) -> Command {
        let exe = self.exes.join(format!("{name}.exe"));
        assert!(
            exe.exists(),
            "{} is missing: run `make windows` (it cross-builds the Windows programs)",
            exe.display()
        );
        self.program(&exe)
    }

    /// `path` as the Windows programs see it: Wine's drive Z: is the Unix root.
    pub fn path(path: &Path) -> String {
        format!("Z:{}", path.display()).replace('/', "\\")
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        // The prefix's wineserver lingers a few seconds after its last program; end it with the test.
        let server = find(
            &["/usr/lib/wine/wineserver64", "/usr/bin/wineserver"],
            "wineserver",
        );
        let _ = Command::new(server)
            .arg("-k")
            .env("WINEPREFIX", &self.prefix)
            .status();
    }
}

/// Where `make windows` puts the `.exe` files: `$OQS_WINDOWS_BIN`, else `target/<triple>/debug` beside the
/// test's own `target/debug`.
pub fn windows_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OQS_WINDOWS_BIN") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> → target
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the target folder above target/debug/deps");
    target.join(TARGET).join("debug")
}
