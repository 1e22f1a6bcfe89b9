//! 特定健康診査受診結果 as the official form prints it: its items in its order and groups, and the one table of
//! 受診勧奨判定値 the ▲ / ▽ marks are made against.
//!
//! Source of every cut-off: seed `003_aa57245f4f676475.txt` (福岡県医師会 オンライン資格確認システム導入支援基礎
//! セミナー, the 特定健康診査受診結果 page, column 「受診勧奨判定値」): ▲140以上 / ▲90以上 / ▲300以上 / ▽34以下 /
//! ▲140以上 / ▲170以上 / ▲51以上 / ▲51以上 / ▲101以上 / ▲126以上 / ▲6.5以上 / ▲126以上, ▽男12.0以下 女11.0以下,
//! eGFR ▽45.0未満. These are the 受診勧奨判定値 of 標準的な健診・保健指導プログラム, not the lower 保健指導判定値 the
//! product used before (SBP 130, TG 150, HbA1c 5.6 …), which raised alarms the official form does not.
//!
//! The seed's text puts the sex-specific ▽男12.0以下 女11.0以下 on the line 「白血球数」. Those are the 受診勧奨
//! 判定値 of 血色素量 (g/dL) in the same programme, and 特定健診 has no 白血球数 item: a white-cell count
//! (normally 3.3–8.6 ×10³/µL) would carry ▽ for nearly everybody. The cut-off is therefore keyed to the 血色素量
//! codes (JLAC10 2A030), with the values exactly as printed.
//!
//! Items are recognised by the JLAC10 analyte code (the first 5 characters of the 17-character 項目コード;
//! the rest names the method, which does not change the cut-off). 随時血糖 shares the analyte of 空腹時血糖 and
//! is told apart by its 検体 / 識別 part `1299`.

use terminal_ipc::{RangeFlag, Sex};

/// The groups of the form, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// 既往歴・自覚症状・他覚症状 (医師記載), shown above the table.
    Findings,
    Basic,
    BloodPressure,
    Lipid,
    Liver,
    Glucose,
    Urine,
    Detail,
}

impl Group {
    /// The heading printed on the form.
    pub fn label(self) -> &'static str {
        match self {
            Group::Findings => "所見",
            Group::Basic => "基本項目",
            Group::BloodPressure => "血圧",
            Group::Lipid => "脂質",
            Group::Liver => "肝機能",
            Group::Glucose => "血糖",
            Group::Urine => "尿検査",
            Group::Detail => "詳細項目",
        }
    }
}

/// A 受診勧奨判定値.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cutoff {
    /// ▲ n以上.
    AtLeast(f64),
    /// ▽ n以下.
    AtMost(f64),
    /// ▽ n未満.
    Below(f64),
    /// ▽ 男 n以下 女 m以下.
    AtMostBySex { male: f64, female: f64 },
}

impl Cutoff {
    /// The mark for a measured value; `None` inside the range, for a value that is not a number, or for a
    /// sex-specific cut-off when the sex is not known.
    pub fn mark(self, value: f64, sex: Option<Sex>) -> Option<RangeFlag> {
        match self {
            Cutoff::AtLeast(c) => (value >= c).then_some(RangeFlag::High),
            Cutoff::AtMost(c) => (value <= c).then_some(RangeFlag::Low),
            Cutoff::Below(c) => (value < c).then_some(RangeFlag::Low),
            Cutoff::AtMostBySex { male, female } => {
                let c = match sex? {
                    Sex::Male => male,
                    Sex::Female => female,
                };
                (value <= c).then_some(RangeFlag::Low)
            }
        }
    }
}

/// One line of the form.
#[derive(Debug, Clone, Copy)]
pub struct FormItem {
    /// As printed on the official form.
    pub label: &'static str,
    pub group: Group,
    /// JLAC10 code prefixes that are this item.
    pub codes: &'static [&'static str],
    /// Codes under those prefixes that are another item (随時 under 空腹時).
    pub except: &'static [&'static str],
    pub cutoff: Option<Cutoff>,
    /// The 受診勧奨判定値 column as printed (empty when the item has none).
    pub shown: &'static str,
}

const fn item(label: &'static str, group: Group, codes: &'static [&'static str]) -> FormItem {
    FormItem {
        label,
        group,
        codes,
        except: &[],
        cutoff: None,
        shown: "",
    }
}

const fn judged(
    label: &'static str,
    group: Group,
    codes: &'static [&'static str],
    cutoff: Cutoff,
    shown: &'static str,
) -> FormItem {
    FormItem {
        label,
        group,
        codes,
        except: &[],
        cutoff: Some(cutoff),
        shown,
    }
}

/// The items of 特定健康診査受診結果 in the form's order, with the 受診勧奨判定値 of seed 003.
pub const FORM_ITEMS: &[FormItem] = &[
    item("既往歴 (医師記載)", Group::Findings, &["9N056"]),
    item("自覚症状 (医師記載)", Group::Findings, &["9N061"]),
    item("他覚症状 (医師記載)", Group::Findings, &["9N066"]),
    item("身長", Group::Basic, &["9N001"]),
    item("体重", Group::Basic, &["9N006"]),
    item("腹囲", Group::Basic, &["9N016"]),
    item("内臓脂肪面積", Group::Basic, &["9N021"]),
    item("BMI", Group::Basic, &["9N011"]),
    // 1回目 (9A755), 2回目 (9A752) and その他 (9A751).
    judged(
        "収縮期血圧",
        Group::BloodPressure,
        &["9A751", "9A752", "9A755"],
        Cutoff::AtLeast(140.0),
        "▲140以上",
    ),
    judged(
        "拡張期血圧",
        Group::BloodPressure,
        &["9A761", "9A762", "9A765"],
        Cutoff::AtLeast(90.0),
        "▲90以上",
    ),
    judged(
        "中性脂肪",
        Group::Lipid,
        &["3F015"],
        Cutoff::AtLeast(300.0),
        "▲300以上",
    ),
    judged(
        "HDLコレステロール",
        Group::Lipid,
        &["3F070"],
        Cutoff::AtMost(34.0),
        "▽34以下",
    ),
    judged(
        "LDLコレステロール",
        Group::Lipid,
        &["3F077"],
        Cutoff::AtLeast(140.0),
        "▲140以上",
    ),
    judged(
        "Non-HDLコレステロール",
        Group::Lipid,
        &["3F069"],
        Cutoff::AtLeast(170.0),
        "▲170以上",
    ),
    judged(
        "GOT (AST)",
        Group::Liver,
        &["3B035"],
        Cutoff::AtLeast(51.0),
        "▲51以上",
    ),
    judged(
        "GPT (ALT)",
        Group::Liver,
        &["3B045"],
        Cutoff::AtLeast(51.0),
        "▲51以上",
    ),
    judged(
        "γ-GT (γ-GTP)",
        Group::Liver,
        &["3B090"],
        Cutoff::AtLeast(101.0),
        "▲101以上",
    ),
    FormItem {
        except: &["3D0101299"],
        ..judged(
            "空腹時血糖",
            Group::Glucose,
            &["3D010"],
            Cutoff::AtLeast(126.0),
            "▲126以上",
        )
    },
    // NGSP値 only: a JDS値 (3D045, before 2013) is 0.4 lower and has no cut-off on the current form.
    judged(
        "HbA1c",
        Group::Glucose,
        &["3D046"],
        Cutoff::AtLeast(6.5),
        "▲6.5以上",
    ),
    judged(
        "随時血糖",
        Group::Glucose,
        &["3D0101299"],
        Cutoff::AtLeast(126.0),
        "▲126以上",
    ),
    item("尿糖", Group::Urine, &["1A020"]),
    item("尿蛋白", Group::Urine, &["1A010"]),
    item("ヘマトクリット値", Group::Detail, &["2A040"]),
    judged(
        "血色素量",
        Group::Detail,
        &["2A030"],
        Cutoff::AtMostBySex {
            male: 12.0,
            female: 11.0,
        },
        "▽男12.0以下 女11.0以下",
    ),
    item("赤血球数", Group::Detail, &["2A020"]),
    item("血清クレアチニン値", Group::Detail, &["3C015"]),
    judged(
        "eGFR",
        Group::Detail,
        &["8A065"],
        Cutoff::Below(45.0),
        "▽45.0未満",
    ),
];

/// The form's line for a JLAC10 item code, with its position on the form.
pub fn form_item(code: &str) -> Option<(usize, &'static FormItem)> {
    FORM_ITEMS.iter().enumerate().find(|(_, i)| {
        i.codes.iter().any(|p| code.starts_with(p)) && !i.except.iter().any(|p| code.starts_with(p))
    })
}

/// The mark of a measured value (`DataValue`, a decimal number) of the item with this code.
pub fn mark(code: &str, value: &str, sex: Option<Sex>) -> Option<RangeFlag> {
    let cutoff = form_item(code)?.1.cutoff?;
    let value: f64 = value.trim().parse().ok().filter(|v: &f64| v.is_finite())?;
    cutoff.mark(value, sex)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIGH: Option<RangeFlag> = Some(RangeFlag::High);
    const LOW: Option<RangeFlag> = Some(RangeFlag::Low);

    /// At the printed cut-off the mark is there, one step inside it is not.
    fn boundary(code: &str, marked: &str, unmarked: &str, flag: Option<RangeFlag>, shown: &str) {
        let (_, item) = form_item(code).unwrap();
        assert_eq!(item.shown, shown, "{code}");
        for sex in [Some(Sex::Male), Some(Sex::Female)] {
            assert_eq!(mark(code, marked, sex), flag, "{code} {marked}");
            assert_eq!(mark(code, unmarked, sex), None, "{code} {unmarked}");
        }
    }

    #[test]
    fn systolic_140_or_more() {
        boundary("9A751000000000001", "140", "139", HIGH, "▲140以上");
        boundary("9A755000000000001", "140", "139", HIGH, "▲140以上");
        boundary("9A752000000000001", "140", "139", HIGH, "▲140以上");
    }

    #[test]
    fn diastolic_90_or_more() {
        boundary("9A761000000000001", "90", "89", HIGH, "▲90以上");
        boundary("9A765000000000001", "90", "89", HIGH, "▲90以上");
    }

    #[test]
    fn triglycerides_300_or_more() {
        boundary("3F015000002327101", "300", "299", HIGH, "▲300以上");
    }

    #[test]
    fn hdl_34_or_less() {
        boundary("3F070000002327101", "34", "35", LOW, "▽34以下");
    }

    #[test]
    fn ldl_140_or_more() {
        boundary("3F077000002327101", "140", "139", HIGH, "▲140以上");
    }

    #[test]
    fn non_hdl_170_or_more() {
        boundary("3F069000002391901", "170", "169", HIGH, "▲170以上");
    }

    #[test]
    fn ast_51_or_more() {
        boundary("3B035000002327201", "51", "50", HIGH, "▲51以上");
    }

    #[test]
    fn alt_51_or_more() {
        boundary("3B045000002327201", "51", "50", HIGH, "▲51以上");
    }

    #[test]
    fn gamma_gt_101_or_more() {
        boundary("3B090000002327101", "101", "100", HIGH, "▲101以上");
    }

    #[test]
    fn fasting_glucose_126_or_more() {
        boundary("3D010000001926101", "126", "125", HIGH, "▲126以上");
        assert_eq!(
            form_item("3D010000001926101").unwrap().1.label,
            "空腹時血糖"
        );
    }

    #[test]
    fn hba1c_ngsp_6_5_or_more_and_jds_unmarked() {
        boundary("3D046000001906202", "6.5", "6.4", HIGH, "▲6.5以上");
        assert_eq!(mark("3D045000001906202", "7.0", None), None);
    }

    #[test]
    fn random_glucose_126_or_more() {
        boundary("3D010129901926101", "126", "125", HIGH, "▲126以上");
        assert_eq!(form_item("3D010129901926101").unwrap().1.label, "随時血糖");
    }

    #[test]
    fn egfr_below_45_0() {
        boundary("8A065000002391901", "44.9", "45.0", LOW, "▽45.0未満");
    }

    #[test]
    fn haemoglobin_by_sex() {
        let code = "2A030000001930101";
        assert_eq!(form_item(code).unwrap().1.shown, "▽男12.0以下 女11.0以下");
        assert_eq!(mark(code, "12.0", Some(Sex::Male)), LOW);
        assert_eq!(mark(code, "12.1", Some(Sex::Male)), None);
        assert_eq!(mark(code, "11.0", Some(Sex::Female)), LOW);
        assert_eq!(mark(code, "11.5", Some(Sex::Female)), None);
        // Without the sex there is no honest mark between 11.0 and 12.0.
        assert_eq!(mark(code, "11.5", None), None);
    }

    #[test]
    fn items_without_a_cut_off_and_odd_values_are_unmarked() {
        for code in [
            "9N001000000000001",
            "9N011000000000001",
            "9N016160100000001",
        ] {
            assert_eq!(mark(code, "300", Some(Sex::Male)), None, "{code}");
        }
        assert_eq!(mark("9A751000000000001", "abc", None), None);
        assert_eq!(mark("9A751000000000001", "", None), None);
        assert_eq!(mark("9A751000000000001", "NaN", None), None);
        assert_eq!(mark("0000000000", "999", None), None);
    }

    /// Every judged line has a boundary test above; this keeps the table and the tests in step.
    #[test]
    fn every_cut_off_is_one_the_seed_prints() {
        let printed = [
            "▲140以上",
            "▲90以上",
            "▲300以上",
            "▽34以下",
            "▲140以上",
            "▲170以上",
            "▲51以上",
            "▲51以上",
            "▲101以上",
            "▲126以上",
            "▲6.5以上",
            "▲126以上",
            "▽男12.0以下 女11.0以下",
            "▽45.0未満",
        ];
        let ours: Vec<&str> = FORM_ITEMS
            .iter()
            .filter(|i| i.cutoff.is_some())
            .map(|i| i.shown)
            .collect();
        assert_eq!(ours, printed);
    }
}
