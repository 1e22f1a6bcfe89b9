//! `oqs account …`: the facility's staff accounts from a terminal.
//!
//! - `oqs account setup --config FILE` (at installation, before the daemon runs): the マスタアカウント and its
//!   リセット用アカウント, written into the store directly.
//! - Every other command goes over the daemon's socket as the account named by `--as`, so the daemon decides
//!   who may do what and writes the audit rows. A session lives as long as its connection: each command logs
//!   in and acts in one run.
//!
//! Passwords are read from the terminal without echo, or line by line from stdin when it is not a terminal
//! (scripts): first the password of `--as`, then (with `--totp`) its one-time code, then a new password
//! when the command sets one. Never from the command line, which other users of the PC can see.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use terminal_ipc::{AccountView, IpcClient, Request, Response, Role, Secret};
use zeroize::Zeroizing;

use crate::client::{SocketArgs, connect_socket, print_json, report, runtime};

/// Who does it: the account logging in for this one command.
#[derive(Debug, Args)]
pub struct ActorArgs {
    #[command(flatten)]
    pub(crate) socket: SocketArgs,
    /// The account doing this (an administrator, the マスタアカウント, or for `reset-password` of the master
    /// the リセット用アカウント). Its password (or 秘密の番号) is read from the terminal or stdin.
    #[arg(long = "as", value_name = "LOGIN")]
    pub(crate) actor: String,
    /// Also read a one-time code after the password.
    #[arg(long)]
    totp: bool,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    #[command(flatten)]
    actor: ActorArgs,
    /// The account to change.
    account: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// 受付.
    Staff,
    /// 管理アカウント.
    Administrator,
    /// 医療情報閲覧アカウント.
    Viewer,
}

impl RoleArg {
    fn role(self) -> Role {
        match self {
            RoleArg::Staff => Role::Staff,
            RoleArg::Administrator => Role::Administrator,
            RoleArg::Viewer => Role::MedicalInformationViewer,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AccountAdminCommand {
    /// Every account: role, 救急時医療情報閲覧権限, second factor, locked, disabled, last login.
    List {
        #[command(flatten)]
        actor: ActorArgs,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// A new account; its password is read after the actor's.
    Create {
        #[command(flatten)]
        actor: ActorArgs,
        /// The new account's user ID.
        #[arg(long)]
        account: String,
        /// Name shown in the app (default: the user ID).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Change an account's role.
    SetRole {
        #[command(flatten)]
        target: TargetArgs,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Disable an account (it can no longer log in; its sessions end).
    Disable(TargetArgs),
    /// Enable a disabled account again.
    Enable(TargetArgs),
    /// Lift a lock after repeated failed logins.
    Unlock(TargetArgs),
    /// Set a new password (read after the actor's), which its owner must change at the next login.
    ResetPassword(TargetArgs),
    /// Remove the second factor (a lost phone); its owner enrols again after logging in.
    #[command(name = "reset-2fa")]
    ResetTwoFactor(TargetArgs),
    /// Grant 救急時医療情報閲覧権限.
    GrantEmergency(TargetArgs),
    /// Withdraw 救急時医療情報閲覧権限.
    RevokeEmergency(TargetArgs),
    /// Change your own password: the current one, then the new one.
    Passwd(ActorArgs),
}

/// One secret: from the terminal without echo, else one line of stdin. Wiped when dropped.
fn read_secret(prompt: &str) -> anyhow::Result<Secret> {
    if std::io::stdin().is_terminal() {
        let typed =
            Zeroizing::new(rpassword::prompt_password(prompt).context("reading a password")?);
        return Ok(Secret::new(typed.as_str()));
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading a password from stdin")?;
    let value = line.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        bail!("{} missing on stdin", prompt.trim_end_matches([':', ' ']));
    }
    Ok(Secret::new(value))
}

/// A new password; typed twice on a terminal.
fn read_new_password(prompt: &str) -> anyhow::Result<Secret> {
    let first = read_secret(prompt)?;
    if std::io::stdin().is_terminal() {
        let again = read_secret("The same again: ")?;
        if first.expose() != again.expose() {
            bail!("the two entries differ; nothing was changed");
        }
    }
    Ok(first)
}

/// The actor's password (and code); logs in on `client`. Returns the session and the password.
pub(crate) async fn log_in(
    client: &IpcClient,
    actor: &ActorArgs,
) -> anyhow::Result<(Secret, Secret)> {
    let password = read_secret(&format!("Password of `{}`: ", actor.actor))?;
    let totp = if actor.totp {
        Some(read_secret("One-time code: ")?)
    } else {
        None
    };
    match client
        .request(Request::Login {
            account: actor.actor.clone(),
            password: password.clone(),
            totp,
        })
        .await?
    {
        Response::LoggedIn { session, .. } => Ok((session, password)),
        other => bail!("unexpected answer to the login: {other:?}"),
    }
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Staff => "受付",
        Role::Administrator => "管理",
        Role::MedicalInformationViewer => "医療情報閲覧",
        Role::Master => "マスタ",
        Role::MasterReset => "マスタリセット用",
    }
}

fn print_accounts(accounts: &[AccountView]) {
    println!(
        "ユーザID\t表示名\t種別\t救急時権限\t二要素\tロック\t無効\t要パスワード変更\t最終ログイン"
    );
    let mark = |b: bool| if b { "○" } else { "-" };
    for a in accounts {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            a.account,
            a.display_name,
            role_label(a.role),
            mark(a.emergency_permission),
            mark(a.totp_enrolled),
            a.locked_until.as_deref().unwrap_or("-"),
            mark(a.disabled),
            mark(a.must_change_password),
            a.last_login.as_deref().unwrap_or("-"),
        );
    }
}

fn changed(response: Response) -> anyhow::Result<()> {
    match response {
        Response::Account { account } => {
            println!("oqs: account `{}` updated", account.account);
            Ok(())
        }
        other => bail!("unexpected answer: {other:?}"),
    }
}

/// A change of `target.account` by the actor; `make` builds the request from the session.
async fn change(
    target: &TargetArgs,
    new_password: bool,
    make: impl FnOnce(Secret, String, Option<Secret>) -> Request,
) -> anyhow::Result<()> {
    let client = connect_socket(&target.actor.socket).await?;
    let (session, _) = log_in(&client, &target.actor).await?;
    let password = if new_password {
        Some(read_new_password(&format!(
            "New password of `{}`: ",
            target.account
        ))?)
    } else {
        None
    };
    changed(
        client
            .request(make(session, target.account.clone(), password))
            .await?,
    )
}

pub fn run(cmd: &AccountAdminCommand) -> ExitCode {
    report(runtime().and_then(|rt| rt.block_on(run_async(cmd))))
}

async fn run_async(cmd: &AccountAdminCommand) -> anyhow::Result<()> {
    use AccountAdminCommand as C;
    match cmd {
        C::List { actor, json } => {
            let client = connect_socket(&actor.socket).await?;
            let (session, _) = log_in(&client, actor).await?;
            match client.request(Request::ListAccounts { session }).await? {
                Response::Accounts { accounts } if *json => print_json(&accounts),
                Response::Accounts { accounts } => {
                    print_accounts(&accounts);
                    Ok(())
                }
                other => bail!("unexpected answer: {other:?}"),
            }
        }
        C::Create {
            actor,
            account,
            name,
            role,
        } => {
            let client = connect_socket(&actor.socket).await?;
            let (session, _) = log_in(&client, actor).await?;
            let password =
                read_new_password(&format!("Password of the new account `{account}`: "))?;
            changed(
                client
                    .request(Request::CreateAccount {
                        session,
                        account: account.clone(),
                        display_name: name.clone().unwrap_or_else(|| account.clone()),
                        role: role.role(),
                        password,
                    })
                    .await?,
            )
        }
        C::SetRole { target, role } => {
            let role = role.role();
            change(target, false, |session, account, _| {
                Request::SetAccountRole {
                    session,
                    account,
                    role,
                }
            })
            .await
        }
        C::Disable(t) | C::Enable(t) => {
            let disabled = matches!(cmd, C::Disable(_));
            change(t, false, |session, account, _| {
                Request::SetAccountDisabled {
                    session,
                    account,
                    disabled,
                }
            })
            .await
        }
        C::Unlock(t) => {
            change(t, false, |session, account, _| Request::UnlockAccount {
                session,
                account,
            })
            .await
        }
        C::ResetPassword(t) => {
            change(t, true, |session, account, password| {
                Request::ResetPassword {
                    session,
                    account,
                    password: password.unwrap_or_else(|| Secret::new("")),
                }
            })
            .await
        }
        C::ResetTwoFactor(t) => {
            change(t, false, |session, account, _| Request::ResetTotp {
                session,
                account,
            })
            .await
        }
        C::GrantEmergency(t) | C::RevokeEmergency(t) => {
            let granted = matches!(cmd, C::GrantEmergency(_));
            change(t, false, |session, account, _| {
                Request::SetEmergencyPermission {
                    session,
                    account,
                    granted,
                }
            })
            .await
        }
        C::Passwd(actor) => {
            let client = connect_socket(&actor.socket).await?;
            let (session, current) = log_in(&client, actor).await?;
            let new_password = read_new_password("New password: ")?;
            changed(
                client
                    .request(Request::ChangePassword {
                        session,
                        current,
                        new_password,
                    })
                    .await?,
            )
        }
    }
}

/// `oqs account setup`: the master accounts of a new installation, from the terminal or stdin (the master's
/// first password, then the 4-digit 秘密の番号).
pub fn setup(store: &facility_store::Store) -> anyhow::Result<()> {
    let password =
        read_new_password("First password of the マスタアカウント (changed at its first login): ")?;
    let number = read_new_password("秘密の番号 of the リセット用アカウント (4 digits): ")?;
    reader_daemon::accounts::create_master_accounts(store, password.expose(), number.expose())?;
    println!(
        "oqs: `{}` and `{}` created; log in as the master, change its password, then create the administrators",
        reader_daemon::accounts::MASTER_LOGIN,
        reader_daemon::accounts::MASTER_RESET_LOGIN
    );
    Ok(())
}
