//! `oqs-virtual-card`: issue synthetic My Number Cards and insert one into a vpcd reader.
//!
//! ```text
//! oqs-virtual-card issue --out DIR [--count N] [--first I] [--seed S] [--variant normal|pin-blocked|…|mixed] [--photo FILE]
//! oqs-virtual-card serve --profile FILE [--port 35963] [--photo FILE] [--plain-reader]
//! ```
//! `issue` writes `DIR/jpki-ca.crt` and `DIR/jpki-ca.key` unless both exist (then they are reused), and one
//! `card-NNNN.toml` per card. `serve` inserts the card and removes it on SIGTERM/SIGINT or end of stdin;
//! if vpcd drops the connection (pcscd restarted) the card is inserted again. The virtual reader has a
//! card-face scanner (it answers the `FF C6` pseudo-APDU with 照合番号B) unless `--plain-reader` is given.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use mock_jpki::MockJpkiCa;
use virtual_card::{
    CardProfile, Faults, IssueOptions, Variant, VirtualCard, VpcdCard, issue_with, vpcd,
};

#[derive(Parser)]
#[command(
    version,
    about = "Synthetic My Number Cards for tests and demos (never a real card)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum VariantArg {
    Normal,
    PinBlocked,
    FaceOnly,
    CertExpired,
    CertExpiring,
    Revoked,
    Smartphone,
    Iphone,
    /// Cycle through every variant, starting with normal.
    Mixed,
}

#[derive(Subcommand)]
enum Cmd {
    /// Issue card profiles (and the mock JPKI CA if DIR has none).
    Issue {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// Index of the first card (card N is linked to person N of the mock central's population).
        #[arg(long, default_value_t = 1)]
        first: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value = "normal")]
        variant: VariantArg,
        /// Face photo: .jp2/.j2k used as is; .png/.bmp/.ppm/.pgm/.tif converted with opj_compress.
        #[arg(long)]
        photo: Option<PathBuf>,
        /// Place validity windows relative to this UNIX time instead of now.
        #[arg(long)]
        issued_at: Option<u64>,
    },
    /// Insert the card of a profile into the vpcd reader until SIGTERM or end of stdin.
    Serve {
        #[arg(long)]
        profile: PathBuf,
        #[arg(long, default_value_t = vpcd::DEFAULT_PORT)]
        port: u16,
        /// Replace the profile's photo for this run (same formats as for issue).
        #[arg(long)]
        photo: Option<PathBuf>,
        /// Act as a plain reader without a card-face scanner (no 照合番号B, so no face matching).
        #[arg(long)]
        plain_reader: bool,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Issue {
            out,
            count,
            first,
            seed,
            variant,
            photo,
            issued_at,
        } => issue_cards(
            &out,
            first..first.saturating_add(count),
            seed,
            variant,
            photo.as_deref(),
            issued_at,
        ),
        Cmd::Serve {
            profile,
            port,
            photo,
            plain_reader,
        } => serve(&profile, port, photo.as_deref(), plain_reader),
    }
}

fn load_photo(path: &Path) -> anyhow::Result<Vec<u8>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "jp2" | "j2k" | "j2c" => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        }
        "png" | "bmp" | "ppm" | "pgm" | "pnm" | "tif" | "tiff" => {
            let dir = tempfile_dir()?;
            let out = dir.join("photo.jp2");
            let status = Command::new("opj_compress")
                .arg("-i")
                .arg(path)
                .arg("-o")
                .arg(&out)
                .args(["-r", "20"])
                .status()
                .context("running opj_compress (apt package libopenjp2-tools)")?;
            if !status.success() {
                bail!("opj_compress could not convert {}", path.display());
            }
            let bytes = std::fs::read(&out)?;
            let _ = std::fs::remove_dir_all(&dir);
            Ok(bytes)
        }
        _ => bail!(
            "unsupported photo format {:?}: use .jp2, or .png/.bmp/.ppm/.tif (converted with opj_compress)",
            path
        ),
    }
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("oqs-virtual-card-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn issue_cards(
    out: &Path,
    indices: std::ops::Range<u32>,
    seed: u64,
    variant: VariantArg,
    photo: Option<&Path>,
    issued_at: Option<u64>,
) -> anyhow::Result<()> {
    let ca = MockJpkiCa::load_or_generate(out, seed).context("preparing the mock JPKI CA")?;
    let sign_ca = ca
        .signature_ca()
        .context("preparing the mock JPKI signature CA")?;
    let photo = photo.map(load_photo).transpose()?;
    let issued_at = issued_at
        .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
        .unwrap_or_else(SystemTime::now);
    for index in indices.filter(|i| *i >= 1) {
        let v = match variant {
            VariantArg::Normal => Variant::Normal,
            VariantArg::PinBlocked => Variant::PinBlocked,
            VariantArg::FaceOnly => Variant::FaceOnly,
            VariantArg::CertExpired => Variant::CertExpired,
            VariantArg::CertExpiring => Variant::CertExpiring,
            VariantArg::Revoked => Variant::Revoked,
            VariantArg::Smartphone => Variant::Smartphone,
            VariantArg::Iphone => Variant::Iphone,
            VariantArg::Mixed => Variant::ALL[(index as usize - 1) % Variant::ALL.len()],
        };
        let profile = issue_with(
            &ca,
            &sign_ca,
            &IssueOptions {
                seed,
                index,
                variant: v,
                issued_at,
                photo_jp2: photo.clone(),
            },
        )?;
        let path = out.join(format!("card-{index:04}.toml"));
        profile.save(&path)?;
        println!(
            "{} serial={} variant={:?}",
            path.display(),
            profile.serial,
            v
        );
    }
    Ok(())
}

/// The line prefix `serve` logs for every command that named a 個人番号 EF (tests look for it).
const MY_NUMBER_ALERT: &str = "MY-NUMBER-EF-ACCESS";

enum Stop {
    #[cfg_attr(not(unix), allow(dead_code))]
    Signal,
    StdinClosed,
}

fn serve(
    profile_path: &Path,
    port: u16,
    photo: Option<&Path>,
    plain_reader: bool,
) -> anyhow::Result<()> {
    let mut profile = CardProfile::load(profile_path)?;
    if let Some(p) = photo {
        use base64::Engine;
        profile.photo.jp2_base64 =
            Some(base64::engine::general_purpose::STANDARD.encode(load_photo(p)?));
    }
    let mut card = Some(profile.to_card()?);
    if plain_reader {
        card = card.map(VirtualCard::without_card_face_scanner);
    }

    let (tx, rx) = mpsc::channel();
    // Windows has no SIGTERM: there the card is removed when stdin ends (or the process is ended).
    #[cfg(unix)]
    {
        let sig_tx = tx.clone();
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGINT,
        ])?;
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                let _ = sig_tx.send(Stop::Signal);
            }
        });
    }
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        let _ = tx.send(Stop::StdinClosed);
    });

    let mut inserted: Option<VpcdCard> = None;
    let mut announced_wait = false;
    let mut reported = 0;
    loop {
        // Any command naming a 個人番号 EF is reported at once in the log, which tests read.
        if let Some(v) = &inserted {
            let seen = v.my_number_accesses();
            for a in seen.iter().skip(reported) {
                eprintln!("{MY_NUMBER_ALERT}: {a}");
            }
            reported = reported.max(seen.len());
        }
        if inserted.as_ref().is_some_and(|c| !c.is_inserted()) {
            // vpcd dropped us (pcscd restarted); take the card back and insert it again.
            card = inserted.take().and_then(VpcdCard::remove);
            eprintln!("vpcd closed the connection; inserting the card again");
        }
        if inserted.is_none() {
            if let Some(c) = card.take() {
                match VpcdCard::insert(c.clone(), port, Faults::default()) {
                    Ok(v) => {
                        eprintln!("card {} inserted into vpcd on port {port}", profile.serial);
                        announced_wait = false;
                        inserted = Some(v);
                    }
                    Err(e) => {
                        if !announced_wait {
                            eprintln!("{e}; retrying");
                            announced_wait = true;
                        }
                        card = Some(c);
                    }
                }
            }
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Stop::Signal)
            | Ok(Stop::StdinClosed)
            | Err(mpsc::RecvTimeoutError::Disconnected) => {
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
    if let Some(v) = inserted {
        let seen = v.my_number_accesses();
        for a in seen.iter().skip(reported) {
            eprintln!("{MY_NUMBER_ALERT}: {a}");
        }
        v.remove();
        eprintln!(
            "card removed; commands that named a 個人番号 EF: {}",
            seen.len()
        );
    }
    Ok(())
}
