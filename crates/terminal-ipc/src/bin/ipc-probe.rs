//! `ipc-probe`: connect to the reader daemon's socket, ask for its status, and print what happened as one JSON
//! line. For IT vendors checking an installation ("does this user get in?"), and for the tests that run it as
//! a second OS user.
//!
//! ```text
//! ipc-probe [--socket PATH] [--token-env VAR | --no-token]
//! ```
//! Without `--token-env` the token is read from the OS keyring, as the real clients do. Exit status: 0 when
//! the daemon answered, 2 when it refused the connection, 1 on any other failure.

use std::process::ExitCode;

use terminal_ipc::{ClientOptions, IpcClient, IpcError, IpcToken, Request};

fn main() -> ExitCode {
    let mut socket = terminal_ipc::default_socket_path();
    let mut token_env: Option<String> = None;
    let mut no_token = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--socket", Some(path)) => socket = path.into(),
            ("--token-env", Some(var)) => token_env = Some(var),
            ("--no-token", next) => {
                no_token = true;
                if let Some(next) = next {
                    eprintln!("unexpected argument {next}");
                    return ExitCode::from(1);
                }
            }
            _ => {
                eprintln!("usage: ipc-probe [--socket PATH] [--token-env VAR | --no-token]");
                return ExitCode::from(1);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"result": "error", "error": e.to_string()})
            );
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let token = if no_token {
            None
        } else if let Some(var) = &token_env {
            Some(IpcToken::from_text(std::env::var(var).unwrap_or_default()))
        } else {
            let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto)?;
            Some(IpcToken::load(&keyring)?)
        };
        let options = ClientOptions {
            client_name: "ipc-probe".into(),
            ..ClientOptions::default()
        };
        let client = IpcClient::connect_with(&socket, token.as_ref(), options).await?;
        let response = client.request(Request::Status).await?;
        Ok::<_, IpcError>(serde_json::to_value(response).unwrap_or_default())
    });
    match result {
        Ok(status) => {
            println!(
                "{}",
                serde_json::json!({"result": "welcome", "status": status})
            );
            ExitCode::SUCCESS
        }
        Err(IpcError::Refused(refusal)) => {
            println!(
                "{}",
                serde_json::json!({"result": "refused", "reason": refusal.reason, "message": refusal.message})
            );
            ExitCode::from(2)
        }
        Err(e) => {
            let kind = match &e {
                IpcError::Connect { source, .. }
                    if source.kind() == std::io::ErrorKind::PermissionDenied =>
                {
                    "permission_denied"
                }
                IpcError::NoToken => "no_token",
                _ => "error",
            };
            println!(
                "{}",
                serde_json::json!({"result": kind, "error": e.to_string()})
            );
            ExitCode::from(1)
        }
    }
}
