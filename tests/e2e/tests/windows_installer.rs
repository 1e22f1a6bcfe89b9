//! The Windows installer (`make windows-installer`: `installer/windows/oqs-terminal.nsi` with
//! `src-tauri/windows/hooks.nsh`) installed silently under Wine. `make windows-installer` runs this file on the
//! installer it has just built (`OQS_WINDOWS_INSTALLER`); run alone, it makes one from the `make windows`
//! programs, uncompressed. Not part of `make test`: copying the installer's hundreds of megabytes through Wine
//! takes minutes, and the installer is built by `make windows-installer` only.

use std::path::PathBuf;
use std::time::Duration;

use e2e::wine::{self, Wine};

/// Installed silently under Wine: the programs, the data folders, the first configuration and the service; a
/// second install keeps the facility's configuration; uninstalling removes the service and the programs and
/// keeps the data. (Wine has no `icacls` and ignores `start= delayed-auto`: the Windows PC
/// checklist covers the ACLs and the start type.)
#[test]
fn the_installer_installs_upgrades_and_uninstalls_under_wine() {
    let wine = Wine::start();
    let work = tempfile::tempdir().expect("temp dir");
    let root = e2e::workspace();
    // The installer `make windows-installer` built holds the app too.
    let (installer, app) = match std::env::var_os("OQS_WINDOWS_INSTALLER") {
        Some(path) => (PathBuf::from(path), true),
        None => (make_installer(&root, work.path()), false),
    };

    let drive_c = wine.prefix.join("drive_c");
    let program = drive_c.join("Program Files/OQS Terminal");
    let data = drive_c.join("ProgramData/OQS");
    let install = || {
        let status = wine
            .program(&installer)
            .arg("/S")
            .status()
            .expect("run the installer");
        assert!(status.success(), "the installer failed: {status}");
    };
    let service_entry = || {
        let out = wine
            .system_command("reg")
            .args([
                "query",
                r"HKLM\System\CurrentControlSet\Services\oqs-readerd",
                "/v",
                "ImagePath",
            ])
            .output()
            .expect("run reg.exe");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };

    install();
    for file in [
        "oqs-readerd.exe",
        "oqs.exe",
        "oqs-readerd.example.toml",
        "uninstall.exe",
    ] {
        assert!(program.join(file).is_file(), "{file} is not installed");
    }
    if app {
        for file in ["oqs-terminal.exe", "WebView2Loader.dll"] {
            assert!(program.join(file).is_file(), "{file} is not installed");
        }
    }
    for folder in ["central", "keys", "work", "req", "res", "face"] {
        assert!(data.join(folder).is_dir(), "C:\\ProgramData\\OQS\\{folder}");
    }
    let config = data.join("oqs-readerd.toml");
    assert_eq!(
        std::fs::read(&config).expect("the first configuration"),
        std::fs::read(root.join("reader-daemon/oqs-readerd.example.toml")).expect("example")
    );
    let entry = service_entry().expect("the service is registered");
    assert!(
        entry.contains(r#""C:\Program Files\OQS Terminal\oqs-readerd.exe" --service --config "C:\ProgramData\OQS\oqs-readerd.toml""#),
        "{entry}"
    );
    // The installed daemon and tool run.
    let out = wine
        .program(&program.join("oqs-readerd.exe"))
        .arg("--version")
        .output()
        .expect("run the installed daemon");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("oqs-readerd"),
        "{out:?}"
    );

    // An upgrade over the facility's own configuration keeps it.
    std::fs::write(&config, "# the facility's settings\n").expect("edit the configuration");
    install();
    assert_eq!(
        std::fs::read_to_string(&config).expect("configuration"),
        "# the facility's settings\n"
    );

    // The uninstaller copies itself away and returns at once: wait for its work.
    let status = wine
        .program(&program.join("uninstall.exe"))
        .arg("/S")
        .status()
        .expect("run the uninstaller");
    assert!(status.success(), "the uninstaller failed: {status}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while program.join("oqs-readerd.exe").exists() || service_entry().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the uninstaller left the programs or the service"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(config.is_file(), "the data is kept");
    assert!(data.join("req").is_dir(), "the data is kept");
}

/// The installer made from the `make windows` programs, uncompressed (quick to make, large).
fn make_installer(root: &std::path::Path, dir: &std::path::Path) -> PathBuf {
    let installer = dir.join("oqs-terminal-setup-test.exe");
    let define = |name: &str, value: &std::path::Path| format!("-D{name}={}", value.display());
    let out = std::process::Command::new("makensis")
        .arg("-V2")
        .arg("-DVERSION=0.0.0-test")
        .arg(define("BIN", &wine::windows_bin_dir()))
        .arg(define(
            "EXAMPLE",
            &root.join("reader-daemon/oqs-readerd.example.toml"),
        ))
        .arg(define("HOOKS", &root.join("src-tauri/windows/hooks.nsh")))
        .arg(define("OUTFILE", &installer))
        .arg("-DNOCOMPRESS")
        .arg(root.join("installer/windows/oqs-terminal.nsi"))
        .output()
        .expect("run makensis (Debian's nsis; `make setup` installs it)");
    assert!(
        out.status.success(),
        "makensis failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    installer
}
