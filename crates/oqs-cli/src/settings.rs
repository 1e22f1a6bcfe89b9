//! `oqs settings show|set`: the facility's own emergency-viewing settings from a terminal, as the 管理 tab
//! changes them: the 救急専用端末, and the emergency summary's order and period. Each command logs in as the
//! administrator named by `--as` (password, and with `--totp` a one-time code, from the terminal or stdin); the
//! daemon checks the values and writes each change with its audit row.

use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use terminal_ipc::{FacilityOptionsView, Request, Response, SummaryOrder};

use crate::accounts::{ActorArgs, log_in};
use crate::client::{connect_socket, print_json, report, runtime};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OrderArg {
    /// 新しい順.
    NewestFirst,
    /// 古い順.
    OldestFirst,
}

impl OrderArg {
    fn order(self) -> SummaryOrder {
        match self {
            OrderArg::NewestFirst => SummaryOrder::NewestFirst,
            OrderArg::OldestFirst => SummaryOrder::OldestFirst,
        }
    }
}

#[derive(Debug, Args)]
pub struct SetArgs {
    #[command(flatten)]
    actor: ActorArgs,
    /// 救急専用端末: the host names of the terminals that may look up in an emergency, separated by commas;
    /// "" lets every terminal.
    #[arg(long, value_name = "NAMES")]
    emergency_terminals: Option<String>,
    /// The order of the emergency summary's lists.
    #[arg(long, value_enum)]
    summary_order: Option<OrderArg>,
    /// How many months of 受診歴・薬剤・診療・透析 the emergency summary shows (1–3).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3))]
    summary_months: Option<u8>,
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// The settings as they are (and this terminal's name).
    Show {
        #[command(flatten)]
        actor: ActorArgs,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change one or more settings.
    Set(SetArgs),
}

fn order_label(order: SummaryOrder) -> &'static str {
    match order {
        SummaryOrder::NewestFirst => "新しい順 (newest_first)",
        SummaryOrder::OldestFirst => "古い順 (oldest_first)",
    }
}

fn print_options(o: &FacilityOptionsView) {
    let terminals = if o.emergency_terminals.is_empty() {
        "指定なし (every terminal)".to_owned()
    } else {
        o.emergency_terminals.join(",")
    };
    println!("救急専用端末\t{terminals}");
    println!("表示順\t{}", order_label(o.summary_order));
    println!(
        "表示対象期間\t直近{}ヵ月 (受診歴・薬剤・診療・透析)",
        o.summary_months
    );
    println!("この端末\t{}", o.this_terminal);
}

pub fn run(cmd: &SettingsCommand) -> ExitCode {
    report(runtime().and_then(|rt| rt.block_on(run_async(cmd))))
}

async fn run_async(cmd: &SettingsCommand) -> anyhow::Result<()> {
    let actor = match cmd {
        SettingsCommand::Show { actor, .. } => actor,
        SettingsCommand::Set(set) => &set.actor,
    };
    let client = connect_socket(&actor.socket).await?;
    let (session, _) = log_in(&client, actor).await?;
    if let SettingsCommand::Set(set) = cmd {
        let changes = [
            ("emergency_terminals", set.emergency_terminals.clone()),
            (
                "emergency_summary_order",
                set.summary_order.map(|o| o.order().as_str().to_owned()),
            ),
            (
                "emergency_summary_months",
                set.summary_months.map(|m| m.to_string()),
            ),
        ];
        if changes.iter().all(|(_, v)| v.is_none()) {
            bail!(
                "nothing to change: give --emergency-terminals, --summary-order or --summary-months"
            );
        }
        for (key, value) in changes {
            let Some(value) = value else { continue };
            match client
                .request(Request::ChangeSetting {
                    session: session.clone(),
                    key: key.into(),
                    value,
                })
                .await?
            {
                Response::Accepted => println!("oqs: {key} changed"),
                other => bail!("unexpected answer: {other:?}"),
            }
        }
    }
    match client.request(Request::FacilityOptions { session }).await? {
        Response::FacilityOptions(o) => match cmd {
            SettingsCommand::Show { json: true, .. } => print_json(&o),
            _ => {
                print_options(&o);
                Ok(())
            }
        },
        other => bail!("unexpected answer: {other:?}"),
    }
}
