//! Medical history (診療・薬剤・手術・透析・特定健診) since 2021-09, synthesised on demand.
//!
//! Storing years of claims for millions of people would make `init` slow and the database huge
//! without making the mock any more faithful, so each person's history is a pure function of
//! `(seed, person id, month)`: the same month always yields the same events, and months that pass
//! add events without changing earlier ones.

use time::Date;

use crate::dates::{add_months, age_on, date, history_start};
use crate::rng::Rng;

/// One drug dispensed or prescribed on a day.
#[derive(Clone, Debug)]
pub struct Drug {
    /// レセプト電算処理システム 医薬品コード (9 digits, synthetic).
    pub code: &'static str,
    pub name: &'static str,
    pub ingredient: &'static str,
    pub quantity: String,
    pub unit: &'static str,
    pub usage: &'static str,
    pub days: u32,
    /// 使用区分 as a レセプト 診療識別: `21` 内服, `22` 屯服, `23` 外用.
    pub class: &'static str,
    /// 1回用量 in `unit`; none for a drug applied as needed (外用).
    pub once: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Visit {
    pub date: Date,
    pub facility: &'static str,
    /// 入外 of the visit: 1 外来, 2 入院 (`InOut`, our convention: docs/file-interface.md).
    pub in_out: &'static str,
    /// 処方区分 of the visit's drugs: 1 院内 (the hospitals dispense their own), 2 院外.
    pub dispensing: &'static str,
    pub treatments: Vec<(&'static str, &'static str)>,
    pub drugs: Vec<Drug>,
}

#[derive(Clone, Debug)]
pub struct Surgery {
    pub date: Date,
    pub facility: &'static str,
    pub code: &'static str,
    pub name: &'static str,
}

#[derive(Clone, Debug)]
pub struct DialysisMonth {
    pub month: Date,
    pub facility: &'static str,
    pub times: u32,
}

#[derive(Clone, Debug)]
pub struct CheckupItem {
    pub code: &'static str,
    pub name: &'static str,
    pub value: String,
    pub unit: &'static str,
    /// The name of a coded or text result (尿糖 `(-)`, 既往歴 …); `None` for a measured number. The central
    /// service sends values, never ▲ / ▽: the terminal judges them against the 受診勧奨判定値.
    pub text: Option<&'static str>,
}

/// The 特定健康診査受診結果 sample of seed 003 (福岡県医師会 seminar): (JLAC10 code, name, value, unit, text).
/// Against the 受診勧奨判定値 only LDL 154 carries ▲.
const SEED_003_CHECKUP: &[(&str, &str, &str, &str, Option<&str>)] = &[
    (
        "9N056160400000049",
        "既往歴",
        "",
        "",
        Some("高血圧症、腎炎、胆嚢(腎・膵臓)結石"),
    ),
    (
        "9N061160800000049",
        "自覚症状",
        "",
        "",
        Some("特記すべきことなし"),
    ),
    (
        "9N066160800000049",
        "他覚症状",
        "",
        "",
        Some("特記すべきことなし"),
    ),
    ("9N001000000000001", "身長", "157.1", "cm", None),
    ("9N006000000000001", "体重", "59.4", "kg", None),
    ("9N016160100000001", "腹囲（実測）", "87.0", "cm", None),
    ("9N011000000000001", "ＢＭＩ", "24.1", "kg/m2", None),
    (
        "9A751000000000001",
        "収縮期血圧（その他）",
        "117",
        "mmHg",
        None,
    ),
    (
        "9A761000000000001",
        "拡張期血圧（その他）",
        "70",
        "mmHg",
        None,
    ),
    (
        "3F015000002327101",
        "中性脂肪（トリグリセリド）",
        "190",
        "mg/dL",
        None,
    ),
    (
        "3F070000002327101",
        "ＨＤＬコレステロール",
        "52",
        "mg/dL",
        None,
    ),
    (
        "3F077000002327101",
        "ＬＤＬコレステロール",
        "154",
        "mg/dL",
        None,
    ),
    ("3B035000002327201", "ＧＯＴ（ＡＳＴ）", "18", "U/L", None),
    ("3B045000002327201", "ＧＰＴ（ＡＬＴ）", "22", "U/L", None),
    (
        "3B090000002327101",
        "γ－ＧＴ（γ－ＧＴＰ）",
        "41",
        "U/L",
        None,
    ),
    ("3D010000001926101", "空腹時血糖", "114", "mg/dL", None),
    (
        "3D046000001906202",
        "ＨｂＡ１ｃ（ＮＧＳＰ値）",
        "6.1",
        "%",
        None,
    ),
    ("1A020000000190111", "尿糖", "1", "", Some("(-)")),
    ("1A010000000190111", "尿蛋白", "1", "", Some("(-)")),
];

fn seed_003_checkup(date: Date) -> Checkup {
    Checkup {
        date,
        items: SEED_003_CHECKUP
            .iter()
            .map(|&(code, name, value, unit, text)| CheckupItem {
                code,
                name,
                value: value.to_owned(),
                unit,
                text,
            })
            .collect(),
    }
}

#[derive(Clone, Debug)]
pub struct Checkup {
    pub date: Date,
    pub items: Vec<CheckupItem>,
}

#[derive(Clone, Debug, Default)]
pub struct History {
    pub visits: Vec<Visit>,
    pub surgeries: Vec<Surgery>,
    pub dialysis: Vec<DialysisMonth>,
    pub checkups: Vec<Checkup>,
}

/// The facilities of the synthetic history (their codes: `results::history_facility_code`).
pub(crate) const FACILITIES: &[&str] = &[
    "みなと内科クリニック",
    "さくら整形外科",
    "中央総合病院",
    "ひかり薬局",
    "あおば小児科",
    "北陸大学病院",
];

/// (code, name, ingredient, unit, usage)
const DRUGS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "620004700",
        "アムロジピン錠５ｍｇ",
        "アムロジピンベシル酸塩",
        "錠",
        "１日１回朝食後",
    ),
    (
        "620008901",
        "ロキソプロフェンＮａ錠６０ｍｇ",
        "ロキソプロフェンナトリウム水和物",
        "錠",
        "１日３回毎食後",
    ),
    (
        "620009402",
        "メトホルミン塩酸塩錠２５０ｍｇ",
        "メトホルミン塩酸塩",
        "錠",
        "１日２回朝夕食後",
    ),
    (
        "620010203",
        "ワルファリンＫ錠１ｍｇ",
        "ワルファリンカリウム",
        "錠",
        "１日１回朝食後",
    ),
    (
        "620011504",
        "アトルバスタチン錠１０ｍｇ",
        "アトルバスタチンカルシウム水和物",
        "錠",
        "１日１回夕食後",
    ),
    (
        "620012805",
        "カルボシステイン錠５００ｍｇ",
        "Ｌ－カルボシステイン",
        "錠",
        "１日３回毎食後",
    ),
    (
        "620013106",
        "クロピドグレル錠７５ｍｇ",
        "クロピドグレル硫酸塩",
        "錠",
        "１日１回朝食後",
    ),
    (
        "620014407",
        "ランソプラゾールＯＤ錠１５ｍｇ",
        "ランソプラゾール",
        "錠",
        "１日１回朝食前",
    ),
    (
        "620015708",
        "アセトアミノフェン錠２００ｍｇ",
        "アセトアミノフェン",
        "錠",
        "疼痛時",
    ),
];

/// Times a day in a 用法 such as `１日３回毎食後`; 1 for one taken as needed (`疼痛時`).
fn times_a_day(usage: &str) -> u32 {
    usage
        .strip_prefix("１日")
        .and_then(|rest| rest.chars().next())
        .and_then(|c| ('０'..='９').contains(&c).then(|| c as u32 - '０' as u32))
        .unwrap_or(1)
}

/// A tablet: `once` a time, 内服 for `days` days, or 屯服 (`疼痛時`) `days` times.
fn oral(
    code: &'static str,
    name: &'static str,
    ingredient: &'static str,
    unit: &'static str,
    usage: &'static str,
    once: u32,
    days: u32,
) -> Drug {
    let as_needed = usage.ends_with('時');
    Drug {
        code,
        name,
        ingredient,
        quantity: (once * times_a_day(usage)).to_string(),
        unit,
        usage,
        days,
        class: if as_needed { "22" } else { "21" },
        once: Some(once.to_string()),
    }
}

/// The hospitals dispense their own prescriptions (院内); the clinics prescribe to a pharmacy (院外).
fn dispensing_of(facility: &str) -> &'static str {
    if facility == FACILITIES[2] || facility == FACILITIES[5] {
        "1"
    } else {
        "2"
    }
}

/// The month of fixture person 1 (the card holder of the window tests) that holds one of everything the
/// official 診療／薬剤情報一覧 prints: an operation, dialysis, a 屯服 with 用法等の特別指示 and a 外用 drug,
/// dispensed 院内.
fn fixture_month() -> Date {
    date(2022, 2, 1)
}

fn valid_fixture_month(h: &mut History, from: Date, to: Date) {
    let inside = |d: Date| d >= from && d <= to;
    let operated = date(2022, 2, 8);
    if inside(operated) {
        h.surgeries.push(Surgery {
            date: operated,
            facility: FACILITIES[5],
            code: SURGERIES[2].0,
            name: SURGERIES[2].1,
        });
    }
    if inside(fixture_month()) {
        h.dialysis.push(DialysisMonth {
            month: fixture_month(),
            facility: FACILITIES[2],
            times: 3,
        });
    }
    let visit = date(2022, 2, 21);
    if inside(visit) {
        let (code, name, ingredient, unit, usage) = DRUGS[8];
        h.visits.push(Visit {
            date: visit,
            facility: FACILITIES[5],
            in_out: "1",
            dispensing: dispensing_of(FACILITIES[5]),
            treatments: vec![("112007410", "再診料"), ("120001210", "薬剤情報提供料")],
            drugs: vec![
                oral(code, name, ingredient, unit, usage, 1, 10),
                Drug {
                    code: "620016010",
                    name: "ゲンタマイシン硫酸塩軟膏０．１％",
                    ingredient: "ゲンタマイシン硫酸塩",
                    quantity: "10".into(),
                    unit: "g",
                    usage: "１日数回患部に塗布",
                    days: 1,
                    class: "23",
                    once: None,
                },
            ],
        });
    }
    h.visits.sort_by_key(|v| v.date);
    h.surgeries.sort_by_key(|s| s.date);
}

const TREATMENTS: &[(&str, &str)] = &[
    ("111000110", "初診料"),
    ("112007410", "再診料"),
    ("160000310", "血液学的検査判断料"),
    ("160008010", "ＨｂＡ１ｃ"),
    ("170000410", "単純撮影（イ）の写真診断"),
    ("120002910", "特定疾患療養管理料"),
];

const SURGERIES: &[(&str, &str)] = &[
    ("150254010", "経皮的冠動脈ステント留置術"),
    ("150151010", "腹腔鏡下胆嚢摘出術"),
    ("150312710", "水晶体再建術"),
    ("150060010", "骨折観血的手術（大腿）"),
];

fn months_between(from: Date, to: Date) -> impl Iterator<Item = Date> {
    let first = date(from.year(), u8::from(from.month()), 1);
    (0..)
        .map(move |i| add_months(first, i))
        .take_while(move |m| *m <= to)
}

/// The person's history between `from` and `to` (both clamped to 2021-09 … `today`).
pub fn history(
    seed: u64,
    person_id: i64,
    birth: Date,
    dialysis: bool,
    from: Date,
    to: Date,
    today: Date,
) -> History {
    let from = from.max(history_start());
    let to = to.min(today);
    let mut h = History::default();
    if from > to {
        return h;
    }
    let mut profile = Rng::new(seed ^ 0x4849_5354, person_id as u64);
    // How often this person sees a doctor, and which drugs they take regularly. The emergency fixture is a
    // regular patient (a visit with a regular drug every month), so that their last 3 months always hold
    // medication whatever the date: the emergency summary's tests rely on it.
    let chronic = person_id == crate::population::fixtures::EMERGENCY;
    let usual_rate = 100 + profile.below(600);
    let visit_rate = if chronic { 1000 } else { usual_rate };
    let mut regular: Vec<usize> = (0..profile.below(3))
        .map(|_| profile.below(DRUGS.len() as u64) as usize)
        .collect();
    if chronic && regular.is_empty() {
        regular.push(0);
    }
    for month in months_between(from, to) {
        let mut r = Rng::new(
            seed ^ 0x4d4f_4e54,
            (person_id as u64) << 16 ^ (month.year() as u64 * 12 + u8::from(month.month()) as u64),
        );
        if dialysis {
            h.dialysis.push(DialysisMonth {
                month,
                facility: FACILITIES[2],
                times: 12 + r.below(2) as u32,
            });
        }
        if r.below(1000) < visit_rate {
            let day = 1 + r.below(28) as u8;
            let d = date(month.year(), u8::from(month.month()), day);
            if d < from || d > to {
                continue;
            }
            let mut drugs: Vec<Drug> = regular
                .iter()
                .map(|&i| {
                    let (code, name, ingredient, unit, usage) = DRUGS[i];
                    oral(code, name, ingredient, unit, usage, 1, 28)
                })
                .collect();
            if r.chance(400) {
                let (code, name, ingredient, unit, usage) = r.pick(DRUGS);
                let once = 1 + r.below(3) as u32;
                drugs.push(oral(
                    code,
                    name,
                    ingredient,
                    unit,
                    usage,
                    once,
                    5 + r.below(10) as u32,
                ));
            }
            let t1 = r.pick(TREATMENTS);
            let facility = r.pick(FACILITIES);
            h.visits.push(Visit {
                date: d,
                facility,
                in_out: if r.chance(30) { "2" } else { "1" },
                dispensing: dispensing_of(facility),
                treatments: vec![("112007410", "再診料"), t1],
                drugs,
            });
        }
        if r.chance(8) {
            let (code, name) = r.pick(SURGERIES);
            let d = date(month.year(), u8::from(month.month()), 1 + r.below(28) as u8);
            if d >= from && d <= to {
                h.surgeries.push(Surgery {
                    date: d,
                    facility: FACILITIES[5],
                    code,
                    name,
                });
            }
        }
        let age = age_on(birth, month);
        if person_id == crate::population::fixtures::VALID && u8::from(month.month()) == 6 {
            // The fixture that the window tests check in: its checkups are the seed's sample, so that a test
            // can compare the screen with the official form mark by mark.
            let d = date(month.year(), 6, 15);
            if d >= from && d <= to {
                h.checkups.push(seed_003_checkup(d));
            }
        } else if (40..75).contains(&age) && u8::from(month.month()) == 6 {
            let d = date(month.year(), 6, 10 + r.below(15) as u8);
            let sys = 105 + r.below(50);
            let hba1c = 50 + r.below(25);
            let ldl = 80 + r.below(100);
            let bmi = 180 + r.below(120);
            h.checkups.push(Checkup {
                date: d,
                items: vec![
                    CheckupItem {
                        code: "9N011000000000001",
                        name: "ＢＭＩ",
                        value: format!("{}.{}", bmi / 10, bmi % 10),
                        unit: "kg/m2",
                        text: None,
                    },
                    CheckupItem {
                        code: "9A751000000000001",
                        name: "収縮期血圧",
                        value: sys.to_string(),
                        unit: "mmHg",
                        text: None,
                    },
                    CheckupItem {
                        code: "3D046000001906202",
                        name: "ＨｂＡ１ｃ（ＮＧＳＰ値）",
                        value: format!("{}.{}", hba1c / 10, hba1c % 10),
                        unit: "%",
                        text: None,
                    },
                    CheckupItem {
                        code: "3F077000002327101",
                        name: "ＬＤＬコレステロール",
                        value: ldl.to_string(),
                        unit: "mg/dL",
                        text: None,
                    },
                ],
            });
        }
    }
    if person_id == crate::population::fixtures::VALID {
        valid_fixture_month(&mut h, from, to);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 数量 is the 1回用量 times the times a day of the 用法 (full-width digits, as the drugs are written).
    #[test]
    fn a_tablet_s_quantity_is_its_dose_times_a_day() {
        let d = oral("x", "x", "x", "錠", "１日３回毎食後", 2, 7);
        assert_eq!(
            (d.quantity.as_str(), d.once.as_deref(), d.class),
            ("6", Some("2"), "21")
        );
        let d = oral("x", "x", "x", "錠", "疼痛時", 1, 10);
        assert_eq!((d.quantity.as_str(), d.class), ("1", "22"));
    }

    #[test]
    fn stable_and_bounded() {
        let today = date(2026, 11, 1);
        let a = history(
            1,
            15,
            date(1975, 10, 10),
            true,
            date(2019, 1, 1),
            today,
            today,
        );
        let b = history(
            1,
            15,
            date(1975, 10, 10),
            true,
            date(2019, 1, 1),
            today,
            today,
        );
        assert_eq!(a.visits.len(), b.visits.len());
        assert!(a.visits.iter().all(|v| v.date >= history_start()));
        assert_eq!(a.dialysis.len(), 63);
        assert!(!a.checkups.is_empty());
        // A shorter window is a subset of the longer one.
        let c = history(
            1,
            15,
            date(1975, 10, 10),
            true,
            date(2024, 1, 1),
            date(2024, 12, 31),
            today,
        );
        assert!(
            c.visits
                .iter()
                .all(|v| a.visits.iter().any(|w| w.date == v.date))
        );
    }
}
