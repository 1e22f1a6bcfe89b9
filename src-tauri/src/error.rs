//! The one error type of the shell. The UI receives it as `{code, message}`; the message is in words a
//! reception clerk or an IT vendor can act on, Japanese first.

use serde::{Serialize, Serializer};
use terminal_ipc::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The daemon is not reachable; `hint` says how to fix it.
    #[error(
        "受付端末サービス (oqs-readerd) に接続できません / the reader daemon is not reachable: {hint}"
    )]
    NotConnected { hint: String },
    /// The daemon answered with an error (its code and message are passed on unchanged).
    #[error("{}", .0.message)]
    Daemon(ErrorBody),
    /// The connection failed while the request was on its way.
    #[error("受付端末サービスとの通信に失敗しました / talking to the reader daemon failed: {0}")]
    Ipc(#[from] terminal_ipc::IpcError),
    /// `systemctl start` did not start the service.
    #[error("サービスを起動できませんでした / could not start the service: {message}")]
    StartFailed { message: String },
    /// This window may not do that (e.g. the patient's kiosk window asking for a staff action).
    #[error("この画面からは実行できません / not allowed from this window: {message}")]
    Forbidden { message: String },
    /// The window system or the webview failed.
    #[error("画面を開けませんでした / the window could not be opened: {message}")]
    Shell { message: String },
    /// The kiosk's spoken guidance could not be made (or its language has no voice: `no_voice`).
    #[error(transparent)]
    Speech(#[from] crate::speech::SpeechError),
}

impl AppError {
    fn code(&self) -> String {
        match self {
            AppError::NotConnected { .. } => "not_connected".into(),
            AppError::Daemon(body) => serde_json::to_value(body.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "other".into()),
            AppError::Ipc(_) => "ipc".into(),
            AppError::StartFailed { .. } => "start_failed".into(),
            AppError::Forbidden { .. } => "forbidden".into(),
            AppError::Shell { .. } => "shell".into(),
            AppError::Speech(crate::speech::SpeechError::NoVoice { .. }) => "no_voice".into(),
            AppError::Speech(_) => "speech".into(),
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("AppError", 2)?;
        s.serialize_field("code", &self.code())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

impl From<tauri::Error> for AppError {
    fn from(e: tauri::Error) -> Self {
        AppError::Shell {
            message: e.to_string(),
        }
    }
}
