//! The readiness check (導入準備チェック): can this terminal go live?
//!
//! [`check`] reads the daemon's configuration and goes through what a facility must have before its first
//! patient (DESIGN.md §3.8, seeds 002): the terminal certificate (installed, readable, chained to the
//! central CA, not near expiry), the central service over mutual TLS (round trip, clock skew, environment
//! settings), pcscd and the card readers (and, on request, a card in one of them), a camera, the `req/ res/
//! face/` folders, and the store (its audit log verifies, its head inside and outside the database agreeing; an
//! administrator account; emergency permission only with a second factor).
//!
//! Each finding is an [`Item`] with a [`Verdict`] and, unless it passed, the fix in plain Japanese and
//! English. `oqs doctor` prints the [`Report`] (or its JSON for the app's screen) and exits non-zero when
//! [`Report::ready`] is false. The check only reads: it never creates the store, a key or a folder.

mod certificate;
mod folders;
mod readers;
mod store;

use std::time::{Duration, SystemTime};

use reader_daemon::config::Config;
use serde::Serialize;

pub use store::{StoreAccessError, hand_back, open_store};

/// The outcome of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Works, but needs attention soon (or a nice-to-have is missing).
    Warning,
    /// Must be fixed before going live.
    Fail,
    /// Not checked because an earlier item failed (its fix comes first).
    Skipped,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Stable id for the app and scripts, e.g. `certificate-expiry`.
    pub id: &'static str,
    pub title_ja: &'static str,
    pub title_en: &'static str,
    pub verdict: Verdict,
    /// What was found (facts: paths, dates, times); never a secret or a patient identifier.
    pub detail: String,
    /// What to do, in Japanese; empty when it passed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix_ja: String,
    /// What to do, in English; empty when it passed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix_en: String,
}

impl Item {
    fn named(id: &'static str, title_ja: &'static str, title_en: &'static str) -> ItemBuilder {
        ItemBuilder {
            id,
            title_ja,
            title_en,
        }
    }
}

/// Names an item; [`ItemBuilder::pass`] and friends finish it.
#[derive(Clone, Copy)]
struct ItemBuilder {
    id: &'static str,
    title_ja: &'static str,
    title_en: &'static str,
}

impl ItemBuilder {
    fn finish(self, verdict: Verdict, detail: String, fix_ja: String, fix_en: String) -> Item {
        Item {
            id: self.id,
            title_ja: self.title_ja,
            title_en: self.title_en,
            verdict,
            detail,
            fix_ja,
            fix_en,
        }
    }

    fn pass(self, detail: impl Into<String>) -> Item {
        self.finish(Verdict::Pass, detail.into(), String::new(), String::new())
    }

    fn warn(
        self,
        detail: impl Into<String>,
        fix_ja: impl Into<String>,
        fix_en: impl Into<String>,
    ) -> Item {
        self.finish(
            Verdict::Warning,
            detail.into(),
            fix_ja.into(),
            fix_en.into(),
        )
    }

    fn fail(
        self,
        detail: impl Into<String>,
        fix_ja: impl Into<String>,
        fix_en: impl Into<String>,
    ) -> Item {
        self.finish(Verdict::Fail, detail.into(), fix_ja.into(), fix_en.into())
    }

    fn skip(self, because: &str) -> Item {
        self.finish(
            Verdict::Skipped,
            format!("not checked: {because}"),
            String::new(),
            String::new(),
        )
    }
}

/// Everything found, in the order checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub ready: bool,
    pub items: Vec<Item>,
}

impl Report {
    fn new(items: Vec<Item>) -> Self {
        let ready = !items.iter().any(|i| i.verdict == Verdict::Fail);
        Self { ready, items }
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    /// Plain text for a terminal: one block per item, Japanese and English.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            let mark = match item.verdict {
                Verdict::Pass => "[ OK ]",
                Verdict::Warning => "[WARN]",
                Verdict::Fail => "[FAIL]",
                Verdict::Skipped => "[SKIP]",
            };
            out.push_str(&format!(
                "{mark} {} / {}\n       {}\n",
                item.title_ja, item.title_en, item.detail
            ));
            if !item.fix_ja.is_empty() {
                out.push_str(&format!("       対処: {}\n", item.fix_ja));
            }
            if !item.fix_en.is_empty() {
                out.push_str(&format!("       Fix: {}\n", item.fix_en));
            }
        }
        let (fails, warns) = self.items.iter().fold((0, 0), |(f, w), i| match i.verdict {
            Verdict::Fail => (f + 1, w),
            Verdict::Warning => (f, w + 1),
            _ => (f, w),
        });
        if self.ready {
            out.push_str(&format!(
                "\n運用開始できます (警告 {warns} 件) / Ready to go live ({warns} warning(s))\n"
            ));
        } else {
            out.push_str(&format!(
                "\n運用開始前に {fails} 件の問題を解決してください / Fix {fails} problem(s) before going live\n"
            ));
        }
        out
    }
}

/// What else to check, and against which clock.
#[derive(Debug, Clone)]
pub struct Options {
    /// Wait this long for a card in any reader and talk to it (`oqs doctor --card-test`).
    pub card_test: Option<Duration>,
    /// "Now", for certificate expiry (tests pass a fixed time).
    pub now: SystemTime,
    /// A certificate that expires within this is a warning.
    pub expiry_warning: Duration,
    /// Clock skew above this is a warning; above `skew_fail`, a failure.
    pub skew_warning: Duration,
    pub skew_fail: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            card_test: None,
            now: SystemTime::now(),
            expiry_warning: Duration::from_secs(30 * 86_400),
            skew_warning: Duration::from_secs(60),
            skew_fail: Duration::from_secs(300),
        }
    }
}

/// The placeholder code of the packaged configuration.
const UNSET_FACILITY_CODE: &str = "0000000000";

/// Runs every check. Blocking PC/SC and file work runs on the blocking pool.
pub async fn check(config: &Config, options: &Options) -> Report {
    let mut items = Vec::new();
    items.push(facility_code(config));
    items.push(pinned_clock(config));
    let cert = certificate::check(config, options);
    let identity_ok = cert.usable;
    items.extend(cert.items);
    items.extend(central(config, options, identity_ok).await);
    let card_test = options.card_test;
    let names = config.readers.names.clone();
    items.extend(
        tokio::task::spawn_blocking(move || readers::check(&names, card_test))
            .await
            .unwrap_or_else(|e| {
                vec![Item::named("pcscd", "カードリーダー", "Card readers").fail(
                    format!("the reader check stopped: {e}"),
                    "もう一度実行してください。",
                    "Run the check again.",
                )]
            }),
    );
    items.push(readers::camera());
    items.extend(folders::check(config));
    items.extend(store::check(config));
    Report::new(items)
}

fn facility_code(config: &Config) -> Item {
    let item = Item::named(
        "facility-code",
        "医療機関コード",
        "Medical institution code",
    );
    let code = &config.facility.medical_institution_code;
    if code == UNSET_FACILITY_CODE {
        item.fail(
            "facility.medical_institution_code is still the placeholder 0000000000",
            "設定ファイルの [facility] medical_institution_code に、利用申請した10桁の医療機関コードを設定してください。",
            "Set [facility] medical_institution_code in the configuration file to the facility's 10-digit code from the usage application.",
        )
    } else {
        item.pass(code.to_string())
    }
}

/// `[clock] pinned` is for tests and training: a terminal that uses it stamps consents, audit rows and result
/// files with a date that is not today. A warning, so that a test set-up still reads as ready.
fn pinned_clock(config: &Config) -> Item {
    let item = Item::named("clock-pinned", "端末の時刻設定", "Terminal clock setting");
    match config.clock.pinned.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => item.warn(
            format!("[clock] pinned = {p}: the daemon's calendar is fixed for testing"),
            "設定ファイルの [clock] pinned はテスト用です。運用する端末では削除してください。",
            "[clock] pinned is for tests only; remove it from the configuration of a terminal in use.",
        ),
        _ => item.pass("system clock"),
    }
}

/// The central service: mutual TLS and round trip, clock skew, environment settings.
async fn central(config: &Config, options: &Options, identity_ok: bool) -> Vec<Item> {
    let link = Item::named(
        "central-link",
        "オンライン資格確認等システムへの接続 (相互TLS)",
        "Central service over mutual TLS",
    );
    let clock = Item::named("clock-skew", "時刻のずれ", "Clock skew");
    let settings = Item::named(
        "environment-settings",
        "環境設定情報の取得",
        "Environment settings fetched",
    );
    if !identity_ok {
        let why = "the terminal certificate cannot be used";
        return vec![link.skip(why), clock.skip(why), settings.skip(why)];
    }
    let client = match config
        .central_config()
        .map_err(|e| e.to_string())
        .and_then(|c| central_client::CentralClient::new(&c, None).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            let why = "the HTTPS client could not be set up";
            return vec![
                link.fail(
                    e,
                    "証明書と秘密鍵の組み合わせ、central.url を確認してください。秘密鍵が暗号化されている場合は、パスフレーズを OS のキーリングに登録してください。",
                    "Check that the certificate and key belong together and that central.url is right. An encrypted key needs its passphrase in the OS keyring.",
                ),
                clock.skip(why),
                settings.skip(why),
            ];
        }
    };
    let url = &config.central.url;
    let (rtt, server_time) = match client.probe_clock().await {
        Ok(v) => v,
        Err(e) => {
            let why = "the central service is unreachable";
            return vec![
                link.fail(
                    format!("{url}: {e}"),
                    "閉域網 (IP-VPN または IPsec+IKE) の回線とルーターを確認し、central.url の宛先に接続できるか確認してください。証明書が失効・期限切れの場合は接続を拒否されます。",
                    "Check the closed-network line (IP-VPN or IPsec+IKE) and the router, and that central.url can be reached from this PC. A revoked or expired certificate is refused.",
                ),
                clock.skip(why),
                settings.skip(why),
            ];
        }
    };
    let rtt_ms = rtt.as_millis();
    let mut items = vec![if rtt > Duration::from_secs(2) {
        link.warn(
            format!("{url}: answered in {rtt_ms} ms (slow)"),
            "回線が遅くなっています。回線業者に確認してください。",
            "The line is slow; ask the network provider to check it.",
        )
    } else {
        link.pass(format!("{url}: answered in {rtt_ms} ms"))
    }];
    items.push(match server_time {
        None => clock.warn(
            "the central service's answer had no Date header",
            "OS の時刻同期 (NTP) が有効か確認してください。",
            "Make sure the OS synchronises its clock (NTP).",
        ),
        Some(server) => {
            // The server stamped its answer somewhere in the round trip: compare with its middle.
            let local = SystemTime::now() - rtt / 2;
            let (skew, ahead) = match local.duration_since(server) {
                Ok(d) => (d, true),
                Err(e) => (e.duration(), false),
            };
            let detail = format!(
                "this PC is {} s {} the central service (±1 s)",
                skew.as_secs(),
                if ahead { "ahead of" } else { "behind" }
            );
            let fix_ja = "OS の時刻同期 (NTP) を有効にし、時刻を合わせてください (Linux: timedatectl set-ntp true / Windows: 設定 → 時刻と言語)。";
            let fix_en = "Turn on clock synchronisation (NTP) and correct the time (Linux: timedatectl set-ntp true; Windows: Settings → Time & language).";
            if skew > options.skew_fail {
                clock.fail(detail, fix_ja, fix_en)
            } else if skew > options.skew_warning {
                clock.warn(detail, fix_ja, fix_en)
            } else {
                clock.pass(detail)
            }
        }
    });
    items.push(
        match client
            .get_json::<serde_json::Value>(&["v1", "facility", "settings"])
            .await
        {
            Ok(v) => match v.get("settings").and_then(|s| s.as_object()) {
                Some(s) if !s.is_empty() => {
                    let mut keys: Vec<String> = s
                        .iter()
                        .map(|(k, v)| match v {
                            serde_json::Value::String(t) => format!("{k}={t}"),
                            other => format!("{k}={other}"),
                        })
                        .collect();
                    keys.sort();
                    settings.pass(keys.join(", "))
                }
                _ => settings.fail(
                    "the central service returned no environment settings for this facility",
                    "管理者アカウントで資格確認端末の環境設定情報 (利用文字コード、薬剤情報・診療情報の利用など) を登録してください。",
                    "Register the facility's environment settings (character code, use of medication and treatment information, …) with the administrator account.",
                ),
            },
            Err(e) => settings.fail(
                e.to_string(),
                "環境設定情報を取得できません。接続を確認し、管理者アカウントで環境設定情報を登録してください。",
                "The environment settings cannot be fetched: check the link, then register them with the administrator account.",
            ),
        },
    );
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_with_a_failure_is_not_ready_and_says_so_in_both_languages() {
        let item = Item::named("x", "項目", "Item");
        let report = Report::new(vec![
            item.pass("fine"),
            item.warn("meh", "注意", "Careful"),
            item.fail("broken", "直す", "Fix it"),
        ]);
        assert!(!report.ready);
        let text = report.to_text();
        assert!(text.contains("[FAIL] 項目 / Item"), "{text}");
        assert!(
            text.contains("対処: 直す") && text.contains("Fix: Fix it"),
            "{text}"
        );
        assert!(text.contains("1 problem(s)"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["items"][2]["verdict"], "fail");
        assert!(json["items"][0].get("fix_en").is_none());
    }

    #[test]
    fn warnings_alone_are_ready() {
        let item = Item::named("x", "項目", "Item");
        let report = Report::new(vec![item.warn("meh", "注意", "Careful"), item.skip("n/a")]);
        assert!(report.ready);
    }
}
