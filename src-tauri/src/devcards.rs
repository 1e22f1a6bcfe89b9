//! Developer-only: insert and remove virtual My Number Cards from the reception window during the demo.
//!
//! Enabled only when `OQS_DEV_CARDS` names a folder of card profiles (`oqs-virtual-card issue --out`) and
//! `OQS_DEV_VPCD_PORT` the vpcd port of the virtual reader; `make demo` sets both. A real installation sets
//! neither, and the panel does not exist there. Inserting runs `oqs-virtual-card serve` (the card stays in
//! the reader while its stdin is open); removing closes that stdin.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;

use serde::Serialize;
use tokio::process::{Child, Command};

use crate::error::AppError;

/// One card profile the panel can insert.
#[derive(Debug, Clone, Serialize)]
pub struct DevCard {
    pub file: String,
    /// `normal`, `pin-blocked`, `face-only` … from the profile.
    pub variant: String,
    pub inserted: bool,
}

/// The panel's state: where the profiles are, the vpcd port, the card in the reader.
pub struct DevCards {
    dir: Option<PathBuf>,
    port: Option<u16>,
    inserted: Mutex<Option<(String, Child)>>,
}

fn no_panel() -> AppError {
    AppError::Shell {
        message: "開発用カードパネルは無効です / the developer card panel is not enabled".into(),
    }
}

impl DevCards {
    pub fn from_env() -> Self {
        Self {
            dir: std::env::var_os("OQS_DEV_CARDS").map(PathBuf::from),
            port: std::env::var("OQS_DEV_VPCD_PORT")
                .ok()
                .and_then(|p| p.parse().ok()),
            inserted: Mutex::new(None),
        }
    }

    fn inserted_file(&self) -> Option<String> {
        match self.inserted.lock() {
            Ok(g) => g.as_ref().map(|(f, _)| f.clone()),
            Err(p) => p.into_inner().as_ref().map(|(f, _)| f.clone()),
        }
    }

    /// The profiles, or `None` when the panel is off.
    pub fn list(&self) -> Option<Vec<DevCard>> {
        let dir = self.dir.as_ref()?;
        self.port?;
        let inserted = self.inserted_file();
        let mut cards: Vec<DevCard> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter_map(|e| {
                let file = e.file_name().to_str()?.to_owned();
                if !(file.starts_with("card-") && file.ends_with(".toml")) {
                    return None;
                }
                let text = std::fs::read_to_string(e.path()).ok()?;
                let variant = text
                    .lines()
                    .find_map(|l| l.strip_prefix("variant = "))
                    .map(|v| v.trim_matches('"').to_owned())
                    .unwrap_or_default();
                Some(DevCard {
                    inserted: inserted.as_deref() == Some(file.as_str()),
                    file,
                    variant,
                })
            })
            .collect();
        cards.sort_by(|a, b| a.file.cmp(&b.file));
        Some(cards)
    }

    /// Takes out the card in the reader (if any) and puts `file` in.
    pub async fn insert(&self, file: &str) -> Result<(), AppError> {
        let (Some(dir), Some(port)) = (&self.dir, self.port) else {
            return Err(no_panel());
        };
        if file.contains('/') || file.contains("..") || !file.ends_with(".toml") {
            return Err(AppError::Shell {
                message: format!("not a card profile: {file}"),
            });
        }
        self.remove().await?;
        let program = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("oqs-virtual-card")))
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("oqs-virtual-card"));
        let child = Command::new(program)
            .args(["serve", "--profile"])
            .arg(dir.join(file))
            .args(["--port", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| AppError::Shell {
                message: format!("oqs-virtual-card: {e}"),
            })?;
        match self.inserted.lock() {
            Ok(mut g) => *g = Some((file.to_owned(), child)),
            Err(p) => *p.into_inner() = Some((file.to_owned(), child)),
        }
        Ok(())
    }

    /// Takes the card out: closes the server's stdin and waits for it to end.
    pub async fn remove(&self) -> Result<(), AppError> {
        let taken = match self.inserted.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some((_, mut child)) = taken {
            drop(child.stdin.take());
            let waited =
                tokio::time::timeout(std::time::Duration::from_secs(5), child.wait()).await;
            if waited.is_err() {
                let _ = child.kill().await;
            }
        }
        Ok(())
    }
}
