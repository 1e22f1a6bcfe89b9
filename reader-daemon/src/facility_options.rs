//! The facility's own emergency-viewing settings, chosen by an administrator (in the app's 管理 tab or with
//! `oqs settings set`) and kept in the store's settings, each change with its audit row:
//!
//! - `emergency_terminals`: the 救急専用端末 (seed 004), host names separated by commas; empty: every terminal.
//! - `emergency_summary_order`: `newest_first` (default) or `oldest_first`, the order of every list of the
//!   emergency summary (seed 000: 項目表示順).
//! - `emergency_summary_months`: 1, 2 or 3 (default, the national summary's period), how far back
//!   受診歴・薬剤・診療・透析 go (seed 000: 表示対象とする期間). 手術 (5 years), 電子処方箋 (45 days) and the
//!   健診 dates keep the national periods, and so does the disaster view (which follows the order only).
//!
//! Only these keys may be changed through the socket, and only to values they take: the other settings are
//! the daemon's own (the consent screens and character code it learnt from the central service).

use chrono::{Datelike, Months, NaiveDate};
use facility_store::{Store, StoreError};
use terminal_ipc::{EmergencySummary, FacilityOptionsView, SummaryItem, SummaryOrder};

/// 救急専用端末 (empty or absent: every terminal may).
pub const EMERGENCY_TERMINALS: &str = "emergency_terminals";
/// The order of the emergency summary's lists.
pub const SUMMARY_ORDER: &str = "emergency_summary_order";
/// The period of 受診歴・薬剤・診療・透析, in months.
pub const SUMMARY_MONTHS: &str = "emergency_summary_months";

/// The national summary's period of 受診歴・薬剤・診療・透析.
pub const NATIONAL_MONTHS: u8 = 3;

/// The settings as they apply now (a missing or unreadable value: its default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilityOptions {
    pub emergency_terminals: Vec<String>,
    pub summary_order: SummaryOrder,
    pub summary_months: u8,
}

impl Default for FacilityOptions {
    fn default() -> Self {
        Self {
            emergency_terminals: Vec::new(),
            summary_order: SummaryOrder::NewestFirst,
            summary_months: NATIONAL_MONTHS,
        }
    }
}

/// `a, b，c` → `["a", "b", "c"]` (commas, 読点 or spaces between names; blanks dropped).
pub fn terminal_list(text: &str) -> Vec<String> {
    text.split([',', '、', '，', ' ', '\t', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn months_of(text: &str) -> Option<u8> {
    text.trim()
        .parse::<u8>()
        .ok()
        .filter(|m| (1..=NATIONAL_MONTHS).contains(m))
}

/// The value to store for `key`, normalised, or why it is refused (in words for the administrator).
pub fn checked_setting(key: &str, value: &str) -> Result<String, String> {
    match key {
        EMERGENCY_TERMINALS => {
            let list = terminal_list(value);
            if let Some(bad) = list
                .iter()
                .find(|t| t.chars().count() > 63 || t.chars().any(char::is_control))
            {
                return Err(format!("端末名が正しくありません: {bad:?}. Not a terminal name."));
            }
            Ok(list.join(","))
        }
        SUMMARY_ORDER => SummaryOrder::parse(value)
            .map(|o| o.as_str().to_owned())
            .ok_or_else(|| {
                "表示順は newest_first (新しい順) か oldest_first (古い順) です。The order is newest_first or \
                 oldest_first."
                    .to_owned()
            }),
        SUMMARY_MONTHS => months_of(value).map(|m| m.to_string()).ok_or_else(|| {
            "表示対象期間は1〜3ヵ月です。The period is 1, 2 or 3 months.".to_owned()
        }),
        _ => Err(format!(
            "設定 {key:?} はここでは変更できません。Only {EMERGENCY_TERMINALS}, {SUMMARY_ORDER} and \
             {SUMMARY_MONTHS} can be changed."
        )),
    }
}

impl FacilityOptions {
    /// The stored settings; a value the key does not take counts as unset.
    pub fn read(store: &Store) -> Result<Self, StoreError> {
        let defaults = Self::default();
        Ok(Self {
            emergency_terminals: store
                .setting(EMERGENCY_TERMINALS)?
                .map(|v| terminal_list(&v))
                .unwrap_or_default(),
            summary_order: store
                .setting(SUMMARY_ORDER)?
                .and_then(|v| SummaryOrder::parse(&v))
                .unwrap_or(defaults.summary_order),
            summary_months: store
                .setting(SUMMARY_MONTHS)?
                .and_then(|v| months_of(&v))
                .unwrap_or(defaults.summary_months),
        })
    }

    pub fn view(&self, this_terminal: String) -> FacilityOptionsView {
        FacilityOptionsView {
            emergency_terminals: self.emergency_terminals.clone(),
            summary_order: self.summary_order,
            summary_months: self.summary_months,
            this_terminal,
        }
    }

    /// Applies the period and the order to an emergency summary from the central service, `today` being the
    /// JST day (the daemon's clock).
    pub fn apply(&self, summary: &mut EmergencySummary, today: NaiveDate) {
        self.limit_period(summary, today);
        self.order(summary);
    }

    /// Keeps 受診歴・薬剤・診療 from `summary_months` months before `today` on; a 透析 line is a month, kept when
    /// it is not before that first day's month.
    fn limit_period(&self, summary: &mut EmergencySummary, today: NaiveDate) {
        let months = self.summary_months.clamp(1, NATIONAL_MONTHS);
        let first = today
            .checked_sub_months(Months::new(u32::from(months)))
            .unwrap_or(today);
        let first_day = first.format("%Y%m%d").to_string();
        let first_month = format!("{:04}{:02}", first.year(), first.month());
        let recent = |items: &mut Vec<SummaryItem>| items.retain(|i| i.date >= first_day);
        recent(&mut summary.visits);
        recent(&mut summary.medications);
        recent(&mut summary.treatments);
        summary
            .dialysis
            .retain(|i| i.date.get(..6).is_some_and(|m| m >= first_month.as_str()));
    }

    /// Orders every list by date (the disaster view too, which keeps the national periods).
    pub fn order(&self, summary: &mut EmergencySummary) {
        let newest_first = self.summary_order == SummaryOrder::NewestFirst;
        // Stable sorts: the lines of one day keep the central service's order either way.
        let order = |items: &mut Vec<SummaryItem>| {
            if newest_first {
                items.sort_by(|a, b| b.date.cmp(&a.date));
            } else {
                items.sort_by(|a, b| a.date.cmp(&b.date));
            }
        };
        for list in [
            &mut summary.visits,
            &mut summary.medications,
            &mut summary.treatments,
            &mut summary.surgeries,
            &mut summary.dialysis,
            &mut summary.e_prescriptions,
        ] {
            order(list);
        }
        summary.checkup_dates.sort();
        if newest_first {
            summary.checkup_dates.reverse();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(date: &str) -> SummaryItem {
        SummaryItem {
            date: date.into(),
            facility: "f".into(),
            code: String::new(),
            name: format!("n{date}"),
            detail: None,
        }
    }

    fn dates(items: &[SummaryItem]) -> Vec<&str> {
        items.iter().map(|i| i.date.as_str()).collect()
    }

    #[test]
    fn only_the_facility_options_are_taken_and_only_with_their_values() {
        assert_eq!(
            checked_setting(EMERGENCY_TERMINALS, " er-1 , er-2、 ").unwrap(),
            "er-1,er-2"
        );
        assert_eq!(checked_setting(EMERGENCY_TERMINALS, "").unwrap(), "");
        assert_eq!(
            checked_setting(SUMMARY_ORDER, "oldest_first").unwrap(),
            "oldest_first"
        );
        assert!(checked_setting(SUMMARY_ORDER, "random").is_err());
        assert_eq!(checked_setting(SUMMARY_MONTHS, " 2 ").unwrap(), "2");
        for bad in ["0", "4", "12", "x", ""] {
            assert!(checked_setting(SUMMARY_MONTHS, bad).is_err(), "{bad}");
        }
        assert!(checked_setting("kiosk.consent_screens", "[]").is_err());
        assert!(checked_setting("facility.character_code", "UTF-8").is_err());
    }

    #[test]
    fn the_period_and_the_order_are_applied_to_the_summary() {
        let today = NaiveDate::from_ymd_opt(2026, 5, 31).unwrap();
        let summary = EmergencySummary {
            medications: vec![item("20260301"), item("20260430"), item("20260515")],
            treatments: vec![item("20260510"), item("20260510"), item("20260401")],
            visits: vec![item("20260501"), item("20260227")],
            surgeries: vec![item("20220101"), item("20250101")],
            dialysis: vec![item("20260301"), item("20260401"), item("20260501")],
            checkup_dates: vec!["20240601".into(), "20250601".into()],
            ..EmergencySummary::default()
        };

        let mut national = summary.clone();
        FacilityOptions::default().apply(&mut national, today);
        assert_eq!(
            dates(&national.medications),
            ["20260515", "20260430", "20260301"]
        );
        assert_eq!(
            dates(&national.visits),
            ["20260501"],
            "3 months back: 2026-02-28"
        );
        assert_eq!(dates(&national.surgeries), ["20250101", "20220101"]);
        assert_eq!(national.treatments.len(), 3);
        national.treatments[0].name = "first".into();
        national.treatments[1].name = "second".into();
        let mut again = national.clone();
        FacilityOptions::default().order(&mut again);
        assert_eq!(
            (
                again.treatments[0].name.as_str(),
                again.treatments[1].name.as_str()
            ),
            ("first", "second"),
            "the lines of one day keep their order"
        );
        assert_eq!(national.checkup_dates, ["20250601", "20240601"]);

        let mut one_month_oldest_first = summary.clone();
        FacilityOptions {
            summary_order: SummaryOrder::OldestFirst,
            summary_months: 1,
            ..FacilityOptions::default()
        }
        .apply(&mut one_month_oldest_first, today);
        // One month back from 5/31 is 4/30 (the end of a shorter month).
        assert_eq!(
            dates(&one_month_oldest_first.medications),
            ["20260430", "20260515"]
        );
        assert_eq!(
            dates(&one_month_oldest_first.dialysis),
            ["20260401", "20260501"]
        );
        assert_eq!(
            dates(&one_month_oldest_first.surgeries),
            ["20220101", "20250101"],
            "手術 keeps its 5 years"
        );
        assert_eq!(
            one_month_oldest_first.checkup_dates,
            ["20240601", "20250601"]
        );
    }
}
