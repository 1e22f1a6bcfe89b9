//! The deterministic synthetic population: people, qualifications (資格), cards, 限度額 and 特定疾病
//! records, written to SQLite by [`generate`].
//!
//! Person ids `1..=FIXTURE_COUNT` are fixed scenario people (see [`fixtures`]) that tests and demos
//! rely on; every later id is drawn from `(seed, id)` alone, so any person can be regenerated
//! without the others.

use rusqlite::{Connection, params};
use time::Date;

use crate::dates::{add_months, age_on, date, ymd};
use crate::error::CentralError;
use crate::insurer::{self, Insurer, InsurerKind};
use crate::names::{
    FEMALE_NAMES, MALE_NAMES, PREFECTURES, RARE_SURNAMES, SOCIETIES, SURNAMES, full_width_digits,
};
use crate::rng::Rng;

/// The day the synthetic world was frozen: births, qualification and card dates lie before it, so
/// a population is identical whenever it is generated.
pub fn world_date() -> Date {
    date(2026, 1, 1)
}

/// Scenario people with fixed ids; the population always contains them.
pub mod fixtures {
    /// Valid 協会けんぽ qualification, card with PIN, lives in 石川県金沢市.
    pub const VALID: i64 = 1;
    /// 限度額 (A03) and 特定疾病 (人工透析) records, dialysis history.
    pub const LIMIT_AND_DISEASE: i64 = 2;
    /// Old qualification lost (03 医療保険等の資格取得) and a new one at another insurer.
    pub const LOST_THEN_NEW: i64 = 3;
    /// Qualification lost by death (01).
    pub const DECEASED: i64 = 4;
    /// Twins under the same 記号・番号 and birth date (branches 02/03): a query without 枝番 matches both.
    pub const TWIN_A: i64 = 5;
    pub const TWIN_B: i64 = 6;
    /// Changed insurer; the new qualification is not loaded yet (data lag → 該当資格なし).
    pub const DATA_LAG: i64 = 7;
    /// Card reported lost: its certificate is revoked.
    pub const CARD_REVOKED: i64 = 8;
    /// Card certificate expired one month ago (inside the 3-month grace for eligibility).
    pub const CARD_EXPIRED_IN_GRACE: i64 = 9;
    /// Card certificate expired six months ago.
    pub const CARD_EXPIRED_LONG_AGO: i64 = 10;
    /// 顔認証マイナンバーカード: no PIN.
    pub const CARD_NO_PIN: i64 = 11;
    /// Two unrelated people with the same name, birth date and sex, insured by the same 国保 (輪島市)
    /// but living in different towns: four facts with the insurer name match both.
    pub const SAME_FACTS_A: i64 = 12;
    pub const SAME_FACTS_B: i64 = 13;
    /// Name outside JIS X 0208 (𠮷).
    pub const RARE_NAME: i64 = 14;
    /// Lives in 石川県珠洲市 with medication history: emergency and disaster target.
    pub const EMERGENCY: i64 = 15;
    /// Pre-school child insured as a family member.
    pub const PRESCHOOL: i64 = 16;
    /// On 生活保護 (医療扶助) only: the 国保 ended when the aid began (02); every month's 医療券 is registered.
    pub const MEDICAL_AID: i64 = 17;
    /// On 医療扶助 only, but the welfare office has not registered any 医療券 (有効（未登録）, 「未委託」).
    pub const MEDICAL_AID_UNREGISTERED: i64 = 18;
    /// On 医療扶助 only, with the DV・虐待 restriction: the address is never shown.
    pub const MEDICAL_AID_RESTRICTED: i64 = 19;
    /// Insured by a 健康保険組合 and on 医療扶助 as well (併用): two qualifications in one result.
    pub const INSURED_AND_AID: i64 = 20;
}

/// How many fixed scenario people precede the random ones.
pub const FIXTURE_COUNT: i64 = 20;

#[derive(Clone)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub kana: String,
    /// 1 男, 2 女 (OQSCD007).
    pub sex: u8,
    pub birth: Date,
    pub post: String,
    pub address: String,
    pub pref: u8,
}

impl std::fmt::Debug for Person {
    /// Patient identifiers are left out on purpose (redacted by type).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("id", &self.id)
            .field("pref", &self.pref)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct Qualification {
    pub person_id: i64,
    pub insurer_number: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    /// 1 本人, 2 家族.
    pub family: u8,
    pub insured_name: String,
    pub qual_date: Date,
    pub disq_date: Option<Date>,
    /// OQSCD008, e.g. "03".
    pub loss_reason: Option<&'static str>,
    /// 3-digit percent, e.g. "030".
    pub ratio: &'static str,
    /// False for a record the insurer has not registered yet (data lag).
    pub loaded: bool,
}

impl std::fmt::Debug for Qualification {
    /// Patient identifiers are left out on purpose (redacted by type).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qualification")
            .field("person_id", &self.person_id)
            .field("insurer_number", &self.insurer_number)
            .field("loaded", &self.loaded)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub struct Card {
    /// Certificate serial, uppercase hex.
    pub serial: String,
    pub person_id: i64,
    pub not_after: Date,
    pub revoked: bool,
    pub no_pin: bool,
}

#[derive(Clone, Debug)]
pub struct LimitCert {
    pub person_id: i64,
    pub classification: &'static str,
    pub flag: &'static str,
    pub cert_date: Date,
    pub valid_from: Date,
    pub valid_to: Date,
}

#[derive(Clone, Debug)]
pub struct SpecificDisease {
    pub person_id: i64,
    /// OQSCD013: 1 人工透析, 2 血友病, 3 HIV.
    pub category: &'static str,
    pub cert_date: Date,
    pub valid_from: Date,
    pub valid_to: Date,
    /// Monthly self-pay limit in yen.
    pub self_pay: u32,
}

/// A person's 医療扶助 (生活保護): the welfare office's record. The monthly 医療券・調剤券 are derived from it
/// when a result is built (`medical_aid::tickets`).
#[derive(Clone)]
pub struct PublicAid {
    pub person_id: i64,
    /// 公費負担者番号: 法別 12, prefecture, office, check digit.
    pub public_expense_number: String,
    /// 受給者番号, 7 digits.
    pub beneficiary_number: String,
    pub welfare_office: String,
    /// 地区担当員 (caseworker) and 取扱担当者 of the welfare office.
    pub district_contact: String,
    pub handling_contact: String,
    /// 保護開始日.
    pub start: Date,
    /// DV・虐待 restriction (閲覧制限).
    pub restricted: bool,
    /// Day of the month from which that month's tickets are registered (the offices do it around the 20th);
    /// 1 = always registered, 0 = never.
    pub registration_day: u8,
    /// 本人支払額 per month in yen (0 for most recipients).
    pub self_pay: u32,
}

impl std::fmt::Debug for PublicAid {
    /// Identifiers are left out on purpose (redacted by type).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicAid")
            .field("person_id", &self.person_id)
            .field("restricted", &self.restricted)
            .finish_non_exhaustive()
    }
}

/// Everything generated for one person.
#[derive(Clone, Debug)]
pub struct Generated {
    pub person: Person,
    pub qualifications: Vec<Qualification>,
    pub card: Option<Card>,
    pub limit: Option<LimitCert>,
    pub disease: Option<SpecificDisease>,
    pub aid: Option<PublicAid>,
    /// 医療費助成 受給者証 (公費, PMH).
    pub subsidies: Vec<Subsidy>,
}

/// One 医療費助成 受給者証 (公費, PMH) of a person.
#[derive(Clone)]
pub struct Subsidy {
    pub person_id: i64,
    /// 公費負担者番号 (法別 2 digits, prefecture, 3 digits, check digit).
    pub public_expense_number: String,
    /// 公費受給者番号, 7 digits.
    pub beneficiary_number: String,
    /// 制度名.
    pub name: &'static str,
    /// 自己負担上限額 per month (yen).
    pub self_pay_limit: u32,
    pub valid_from: Date,
    pub valid_to: Date,
}

impl std::fmt::Debug for Subsidy {
    /// The 受給者番号 is left out on purpose.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subsidy")
            .field("person_id", &self.person_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A 受給者証 of scheme `houbetsu` (法別番号) and `name` for `person` in prefecture code `pref`.
fn subsidy(person: &Person, houbetsu: u8, name: &'static str, self_pay_limit: u32) -> Subsidy {
    let body = format!(
        "{:02}{:02}{:03}",
        houbetsu,
        person.pref,
        100 + person.id % 900
    );
    let check = insurer::check_digit(&body).unwrap_or(0);
    let number = format!("{:06}", (person.id as u64 * 104_729) % 1_000_000);
    let n_check = insurer::check_digit(&number).unwrap_or(0);
    Subsidy {
        person_id: person.id,
        public_expense_number: format!("{body}{check}"),
        beneficiary_number: format!("{number}{n_check}"),
        name,
        self_pay_limit,
        valid_from: date(2025, 4, 1),
        valid_to: date(2027, 3, 31),
    }
}

const CONTACTS: &[&str] = &[
    "佐々木\u{3000}一郎",
    "高橋\u{3000}由美",
    "松本\u{3000}健",
    "井上\u{3000}明美",
    "木村\u{3000}誠",
];

/// The 医療扶助 record of `person`, who lives in city `city` of prefecture `pref` (index into
/// [`PREFECTURES`]); `salt` varies the contacts and the self-pay.
fn public_aid(person: &Person, pref: usize, city: usize, start: Date, salt: u64) -> PublicAid {
    let (number, office) = insurer::welfare_office(&PREFECTURES[pref], city);
    let id = person.id as u64;
    let body = format!("{:06}", (id * 7_919) % 1_000_000);
    let check = insurer::check_digit(&body).unwrap_or(0);
    PublicAid {
        person_id: person.id,
        public_expense_number: number,
        beneficiary_number: format!("{body}{check}"),
        welfare_office: office,
        district_contact: CONTACTS[((id + salt) % CONTACTS.len() as u64) as usize].to_string(),
        handling_contact: CONTACTS[((id + salt + 2) % CONTACTS.len() as u64) as usize].to_string(),
        start,
        restricted: false,
        registration_day: 20,
        self_pay: if salt % 5 == 0 { 3_000 } else { 0 },
    }
}

/// The certificate serial of a person's card (big-endian, no leading zero bytes): stable, and
/// distinct from person ids so that mix-ups show.
pub fn card_serial_bytes(person_id: i64) -> Vec<u8> {
    let v = (1_000_000_000u64 + person_id as u64).to_be_bytes();
    let first = v.iter().position(|b| *b != 0).unwrap_or(v.len() - 1);
    v[first..].to_vec()
}

/// [`card_serial_bytes`] as uppercase hex, the key of the `cards` table.
pub fn card_serial_for(person_id: i64) -> String {
    mock_jpki::hex_upper(&card_serial_bytes(person_id))
}

const LIMIT_FLAGS: &[&str] = &[
    "A01", "A02", "A03", "A04", "A05", "A06", "B01", "B02", "B03", "B04", "B05", "B06", "B07",
    "B08", "B09", "B10",
];

/// Key used for name search: whitespace removed and the variant characters of
/// [`RARE_SURNAMES`] folded to their common forms, so "吉田" finds "𠮷田".
pub fn name_key(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '𠮷' => '吉',
            '髙' => '高',
            '﨑' => '崎',
            '德' => '徳',
            other => other,
        })
        .collect()
}

struct PersonSpec {
    surname: (&'static str, &'static str),
    given: (&'static str, &'static str),
    sex: u8,
    birth: Date,
    pref: usize,
    city: usize,
    town: usize,
    block: (u64, u64, u64),
    post4: u64,
}

fn person_from(id: i64, s: &PersonSpec) -> Person {
    let p = &PREFECTURES[s.pref];
    let c = &p.cities[s.city];
    let town = c.towns[s.town % c.towns.len()];
    Person {
        id,
        name: format!("{}\u{3000}{}", s.surname.0, s.given.0),
        kana: format!("{} {}", s.surname.1, s.given.1),
        sex: s.sex,
        birth: s.birth,
        post: format!("{:03}-{:04}", c.post3, s.post4),
        address: format!(
            "{}{}{}{}",
            p.name,
            c.name,
            town,
            full_width_digits(&format!("{}-{}-{}", s.block.0, s.block.1, s.block.2))
        ),
        pref: p.code,
    }
}

fn pref_index(code: u8) -> usize {
    PREFECTURES.iter().position(|p| p.code == code).unwrap_or(0)
}

fn ratio_for(birth: Date, kind: InsurerKind) -> &'static str {
    let age = age_on(birth, world_date());
    if kind == InsurerKind::LateElderly {
        "010"
    } else if !(6..70).contains(&age) {
        "020"
    } else {
        "030"
    }
}

/// 記号・番号 derived injectively from the person id, shaped like the insurer kind's real ones.
fn symbol_number(kind: InsurerKind, id: i64, salt: u32) -> (String, String) {
    let id = id as u64 + u64::from(salt) * 7_919;
    match kind {
        InsurerKind::Kyokai => (
            format!("{}", 10_000_000 + id / 500),
            format!("{}", id % 500 + 1),
        ),
        InsurerKind::Society => (
            format!("{}", 1000 + id / 20_000),
            format!("{}", id % 20_000 + 1),
        ),
        InsurerKind::Kokuho => (
            full_width_digits(&format!("{}", 1 + id / 100_000)),
            format!("{:06}", id % 100_000 + 1),
        ),
        InsurerKind::LateElderly => (String::new(), format!("{:08}", id)),
        InsurerKind::Mutual => (
            format!("{}", 100 + id / 9_000),
            format!("{}", id % 9_000 + 1),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn qualification(
    person: &Person,
    ins: &Insurer,
    salt: u32,
    family: u8,
    branch: &str,
    insured_name: &str,
    qual_date: Date,
) -> Qualification {
    let (symbol, number) = symbol_number(ins.kind, person.id, salt);
    Qualification {
        person_id: person.id,
        insurer_number: ins.number.clone(),
        symbol,
        number,
        branch: branch.to_string(),
        family,
        insured_name: insured_name.to_string(),
        qual_date,
        disq_date: None,
        loss_reason: None,
        ratio: ratio_for(person.birth, ins.kind),
        loaded: true,
    }
}

fn card(person_id: i64, issued: Date) -> Card {
    Card {
        serial: card_serial_for(person_id),
        person_id,
        not_after: add_months(issued, 60),
        revoked: false,
        no_pin: false,
    }
}

/// Generate person `id` of the population with `seed`.
pub fn generate_person(seed: u64, id: i64) -> Generated {
    if id <= FIXTURE_COUNT {
        return fixture(id);
    }
    let mut r = Rng::new(seed, id as u64);
    let sex = 1 + r.below(2) as u8;
    let surname = if r.chance(10) {
        r.pick(RARE_SURNAMES)
    } else {
        r.pick(SURNAMES)
    };
    let given = if sex == 1 {
        r.pick(MALE_NAMES)
    } else {
        r.pick(FEMALE_NAMES)
    };
    let birth_span = (date(2025, 12, 31) - date(1930, 1, 1)).whole_days();
    let birth = date(1930, 1, 1) + time::Duration::days(r.below(birth_span as u64) as i64);
    // A third of the people live in Tokyo, a sixth in 石川県 (the disaster scenarios' area).
    let roll = r.below(6);
    let pref = match roll {
        0 | 1 => pref_index(13),
        2 => pref_index(17),
        _ => r.below(PREFECTURES.len() as u64) as usize,
    };
    let city = r.below(PREFECTURES[pref].cities.len() as u64) as usize;
    let spec = PersonSpec {
        surname,
        given,
        sex,
        birth,
        pref,
        city,
        town: r.below(8) as usize,
        block: (1 + r.below(5), 1 + r.below(30), 1 + r.below(20)),
        post4: r.below(10_000),
    };
    let person = person_from(id, &spec);
    let p = &PREFECTURES[pref];
    let age = age_on(birth, world_date());
    let ins = if age >= 75 {
        insurer::late_elderly(p)
    } else {
        match r.below(20) {
            0..=8 => insurer::kyokai(p),
            9..=13 => insurer::society(r.below(SOCIETIES.len() as u64) as usize),
            14..=18 => insurer::kokuho(p, city),
            _ => insurer::mutual(p),
        }
    };
    let is_family = ins.kind != InsurerKind::Kokuho
        && ins.kind != InsurerKind::LateElderly
        && (age < 20 || r.chance(250));
    let (family, branch, insured) = if is_family {
        let head = format!("{}\u{3000}{}", surname.0, r.pick(MALE_NAMES).0);
        (2u8, format!("{:02}", 2 + r.below(3)), head)
    } else {
        (1u8, "01".to_string(), person.name.clone())
    };
    let start_span = (world_date() - birth).whole_days().max(1) as u64;
    let qual_date = (birth + time::Duration::days(r.below(start_span) as i64))
        .max(date(1990, 4, 1))
        .max(birth);
    let mut quals = vec![qualification(
        &person, &ins, 0, family, &branch, &insured, qual_date,
    )];

    let fate = r.below(1000);
    if fate < 10 {
        // Changed insurer: the old record is lost with 03, the new one starts the next day.
        let loss = (qual_date + time::Duration::days(1 + r.below(start_span) as i64))
            .min(date(2025, 11, 30));
        quals[0].disq_date = Some(loss);
        quals[0].loss_reason = Some("03");
        let new_ins = insurer::society(r.below(SOCIETIES.len() as u64) as usize);
        let mut q = qualification(
            &person,
            &new_ins,
            1,
            1,
            "01",
            &person.name,
            loss + time::Duration::days(1),
        );
        // One in ten of those changes has not reached the central database yet.
        q.loaded = r.below(10) != 0;
        quals.push(q);
    } else if fate < 12 && age > 60 {
        quals[0].disq_date = Some(date(2025, 6, 1));
        quals[0].loss_reason = Some("01");
    }
    let deceased = quals[0].loss_reason == Some("01");
    let card = if !deceased && r.below(100) < 75 {
        let issued = date(
            2016 + r.below(10) as i32,
            1 + r.below(12) as u8,
            1 + r.below(28) as u8,
        );
        let mut c = card(id, issued);
        c.revoked = r.chance(10);
        c.no_pin = r.chance(10);
        Some(c)
    } else {
        None
    };
    let limit = r.chance(30).then(|| LimitCert {
        person_id: id,
        classification: "01",
        flag: r.pick(LIMIT_FLAGS),
        cert_date: date(2025, 8, 1),
        valid_from: date(2025, 8, 1),
        valid_to: date(2026, 7, 31),
    });
    let disease = r.chance(5).then(|| SpecificDisease {
        person_id: id,
        category: r.pick(&["1", "2", "3"]),
        cert_date: date(2023, 4, 1),
        valid_from: date(2023, 4, 1),
        valid_to: date(2027, 3, 31),
        self_pay: if r.chance(500) { 10_000 } else { 20_000 },
    });
    // About 1.6 % of people are on 生活保護 (as in Japan). 国保 and 後期高齢者医療 end when the aid begins (02);
    // employees keep their health insurance and the aid pays the rest (併用). Drawn last so that the draws
    // above, and everyone who is not on aid, stay as they were.
    let on_aid = r.chance(16);
    let aid_start = date(2018 + r.below(8) as i32, 1 + r.below(12) as u8, 1).min(date(2025, 12, 1));
    let aid_salt = r.below(1000);
    let aid = (on_aid
        && quals.len() == 1
        && quals[0].disq_date.is_none()
        && quals[0].qual_date < aid_start)
        .then(|| {
            if matches!(ins.kind, InsurerKind::Kokuho | InsurerKind::LateElderly) {
                quals[0].disq_date = Some(aid_start - time::Duration::days(1));
                quals[0].loss_reason = Some("02");
            }
            public_aid(&person, pref, city, aid_start, aid_salt)
        });
    // 医療費助成 (PMH): a third of children under 15 have a 子ども医療費助成 受給者証 on the card (法別 88, the
    // municipal schemes), 0.3 % of everyone a 指定難病 one (法別 54). Drawn last, as above.
    let child = r.chance(333) && age < 15;
    let nanbyo = r.chance(3);
    let mut subsidies = Vec::new();
    if child {
        subsidies.push(subsidy(&person, 88, "子ども医療費助成", 0));
    }
    if nanbyo {
        subsidies.push(subsidy(&person, 54, "指定難病", 10_000));
    }
    Generated {
        person,
        qualifications: quals,
        card,
        limit,
        disease,
        aid,
        subsidies,
    }
}

fn fixture(id: i64) -> Generated {
    use fixtures::*;
    let ishikawa = pref_index(17);
    let tokyo = pref_index(13);
    let spec = |surname, given, sex, birth, pref, city, town| PersonSpec {
        surname,
        given,
        sex,
        birth,
        pref,
        city,
        town,
        block: (1, 2, 3),
        post4: 1000 + id as u64,
    };
    let sp = match id {
        VALID => spec(
            ("山田", "ﾔﾏﾀﾞ"),
            ("太郎", "ﾀﾛｳ"),
            1,
            date(1980, 4, 1),
            ishikawa,
            0,
            0,
        ),
        LIMIT_AND_DISEASE => spec(
            ("佐藤", "ｻﾄｳ"),
            ("花子", "ﾊﾅｺ"),
            2,
            date(1955, 3, 15),
            tokyo,
            0,
            0,
        ),
        LOST_THEN_NEW => spec(
            ("鈴木", "ｽｽﾞｷ"),
            ("一郎", "ｲﾁﾛｳ"),
            1,
            date(1970, 1, 1),
            tokyo,
            2,
            0,
        ),
        DECEASED => spec(
            ("田中", "ﾀﾅｶ"),
            ("和夫", "ｶｽﾞｵ"),
            1,
            date(1935, 5, 5),
            tokyo,
            1,
            0,
        ),
        TWIN_A => spec(
            ("伊藤", "ｲﾄｳ"),
            ("健太", "ｹﾝﾀ"),
            1,
            date(2008, 7, 7),
            ishikawa,
            0,
            1,
        ),
        TWIN_B => spec(
            ("伊藤", "ｲﾄｳ"),
            ("翔太", "ｼｮｳﾀ"),
            1,
            date(2008, 7, 7),
            ishikawa,
            0,
            1,
        ),
        DATA_LAG => spec(
            ("渡辺", "ﾜﾀﾅﾍﾞ"),
            ("美咲", "ﾐｻｷ"),
            2,
            date(1995, 12, 12),
            tokyo,
            0,
            1,
        ),
        CARD_REVOKED => spec(
            ("中村", "ﾅｶﾑﾗ"),
            ("誠", "ﾏｺﾄ"),
            1,
            date(1985, 5, 20),
            tokyo,
            1,
            1,
        ),
        CARD_EXPIRED_IN_GRACE => spec(
            ("小林", "ｺﾊﾞﾔｼ"),
            ("陽子", "ﾖｳｺ"),
            2,
            date(1960, 8, 8),
            ishikawa,
            0,
            2,
        ),
        CARD_EXPIRED_LONG_AGO => spec(
            ("加藤", "ｶﾄｳ"),
            ("浩", "ﾋﾛｼ"),
            1,
            date(1958, 3, 3),
            ishikawa,
            3,
            0,
        ),
        CARD_NO_PIN => spec(
            ("吉田", "ﾖｼﾀﾞ"),
            ("幸子", "ｻﾁｺ"),
            2,
            date(1940, 11, 11),
            ishikawa,
            0,
            3,
        ),
        SAME_FACTS_A => spec(
            ("山本", "ﾔﾏﾓﾄ"),
            ("陽菜", "ﾋﾅ"),
            2,
            date(2010, 1, 1),
            ishikawa,
            1,
            0,
        ),
        SAME_FACTS_B => spec(
            ("山本", "ﾔﾏﾓﾄ"),
            ("陽菜", "ﾋﾅ"),
            2,
            date(2010, 1, 1),
            ishikawa,
            1,
            1,
        ),
        RARE_NAME => spec(
            ("𠮷田", "ﾖｼﾀﾞ"),
            ("凛", "ﾘﾝ"),
            2,
            date(2000, 2, 29),
            ishikawa,
            2,
            0,
        ),
        EMERGENCY => spec(
            ("石川", "ｲｼｶﾜ"),
            ("蓮", "ﾚﾝ"),
            1,
            date(1975, 10, 10),
            ishikawa,
            2,
            2,
        ),
        MEDICAL_AID => spec(
            ("大野", "ｵｵﾉ"),
            ("茂", "ｼｹﾞﾙ"),
            1,
            date(1962, 3, 5),
            tokyo,
            0,
            3,
        ),
        MEDICAL_AID_UNREGISTERED => spec(
            ("森", "ﾓﾘ"),
            ("和子", "ｶｽﾞｺ"),
            2,
            date(1950, 9, 9),
            ishikawa,
            0,
            4,
        ),
        MEDICAL_AID_RESTRICTED => spec(
            ("池田", "ｲｹﾀﾞ"),
            ("真理", "ﾏﾘ"),
            2,
            date(1988, 6, 6),
            tokyo,
            1,
            2,
        ),
        INSURED_AND_AID => spec(
            ("橋本", "ﾊｼﾓﾄ"),
            ("修", "ｵｻﾑ"),
            1,
            date(1972, 2, 2),
            tokyo,
            2,
            1,
        ),
        _ => spec(
            ("前田", "ﾏｴﾀﾞ"),
            ("湊", "ﾐﾅﾄ"),
            1,
            date(2022, 5, 5),
            tokyo,
            0,
            2,
        ),
    };
    let person = person_from(id, &sp);
    let p = &PREFECTURES[sp.pref];
    let own = person.name.clone();
    let q = |ins: &Insurer, qd| qualification(&person, ins, 0, 1, "01", &own, qd);
    let mut g = Generated {
        person: person.clone(),
        qualifications: vec![],
        card: Some(card(id, date(2022, 4, 1))),
        limit: None,
        disease: None,
        aid: None,
        subsidies: Vec::new(),
    };
    match id {
        VALID
        | RARE_NAME
        | CARD_REVOKED
        | CARD_EXPIRED_IN_GRACE
        | CARD_EXPIRED_LONG_AGO
        | CARD_NO_PIN => g
            .qualifications
            .push(q(&insurer::kyokai(p), date(2010, 4, 1))),
        LIMIT_AND_DISEASE => {
            g.qualifications
                .push(q(&insurer::society(1), date(2000, 4, 1)));
            g.limit = Some(LimitCert {
                person_id: id,
                classification: "01",
                flag: "A03",
                cert_date: date(2025, 8, 1),
                valid_from: date(2025, 8, 1),
                valid_to: date(2026, 7, 31),
            });
            g.subsidies.push(subsidy(&person, 54, "指定難病", 10_000));
            g.disease = Some(SpecificDisease {
                person_id: id,
                category: "1",
                cert_date: date(2020, 4, 1),
                valid_from: date(2020, 4, 1),
                valid_to: date(2030, 3, 31),
                self_pay: 10_000,
            });
        }
        LOST_THEN_NEW => {
            let mut old = q(&insurer::kyokai(p), date(1992, 4, 1));
            old.disq_date = Some(date(2024, 3, 31));
            old.loss_reason = Some("03");
            g.qualifications.push(old);
            g.qualifications.push(qualification(
                &person,
                &insurer::society(0),
                1,
                1,
                "01",
                &own,
                date(2024, 4, 1),
            ));
        }
        DECEASED => {
            let mut old = q(&insurer::late_elderly(p), date(2010, 5, 5));
            old.disq_date = Some(date(2025, 1, 10));
            old.loss_reason = Some("01");
            g.qualifications.push(old);
            g.card = None;
        }
        TWIN_A | TWIN_B => {
            let head = "伊藤\u{3000}大輔";
            let mut t = qualification(
                &person,
                &insurer::kyokai(p),
                0,
                2,
                if id == TWIN_A { "02" } else { "03" },
                head,
                date(2008, 7, 7),
            );
            // Both twins sit under their parent's 記号・番号.
            let (symbol, number) = symbol_number(InsurerKind::Kyokai, TWIN_A, 0);
            t.symbol = symbol;
            t.number = number;
            g.qualifications.push(t);
        }
        DATA_LAG => {
            let mut old = q(&insurer::kyokai(p), date(2018, 4, 1));
            old.disq_date = Some(date(2025, 12, 31));
            old.loss_reason = Some("03");
            g.qualifications.push(old);
            let mut new = qualification(
                &person,
                &insurer::society(0),
                1,
                1,
                "01",
                &own,
                date(2026, 1, 1),
            );
            new.loaded = false;
            g.qualifications.push(new);
        }
        SAME_FACTS_A | SAME_FACTS_B => {
            g.qualifications
                .push(q(&insurer::kokuho(p, 1), date(2010, 1, 1)));
            g.card = None;
        }
        EMERGENCY => g
            .qualifications
            .push(q(&insurer::kokuho(p, 2), date(2000, 4, 1))),
        MEDICAL_AID | MEDICAL_AID_UNREGISTERED | MEDICAL_AID_RESTRICTED => {
            let start = date(2023, 6, 1);
            let mut old = q(&insurer::kokuho(p, sp.city), date(2005, 4, 1));
            old.disq_date = Some(start - time::Duration::days(1));
            old.loss_reason = Some("02");
            g.qualifications.push(old);
            let mut aid = public_aid(&person, sp.pref, sp.city, start, id as u64);
            aid.registration_day = if id == MEDICAL_AID_UNREGISTERED { 0 } else { 1 };
            aid.restricted = id == MEDICAL_AID_RESTRICTED;
            g.aid = Some(aid);
        }
        INSURED_AND_AID => {
            g.qualifications
                .push(q(&insurer::society(2), date(2015, 4, 1)));
            let mut aid = public_aid(&person, sp.pref, sp.city, date(2024, 4, 1), 0);
            aid.registration_day = 1;
            aid.self_pay = 5_000;
            g.aid = Some(aid);
        }
        _ => {
            // PRESCHOOL: family member of a 協会けんぽ insured person, with a 子ども医療費助成 受給者証 (PMH).
            g.subsidies
                .push(subsidy(&person, 88, "子ども医療費助成", 0));
            g.qualifications.push(qualification(
                &person,
                &insurer::kyokai(p),
                0,
                2,
                "02",
                "前田\u{3000}大輔",
                date(2022, 5, 5),
            ));
            g.card = None;
        }
    }
    if let Some(c) = g.card.as_mut() {
        match id {
            CARD_REVOKED => c.revoked = true,
            CARD_NO_PIN => c.no_pin = true,
            _ => {}
        }
    }
    g
}

/// Schema of the population database; runtime tables (consents, logs, jobs) are in [`crate::store`].
pub const POPULATION_SCHEMA: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE insurers(number TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, pref INTEGER NOT NULL);
CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT NOT NULL, kana TEXT NOT NULL, name_key TEXT NOT NULL,
  kana_key TEXT NOT NULL, sex INTEGER NOT NULL, birth TEXT NOT NULL, post TEXT NOT NULL, address TEXT NOT NULL,
  pref INTEGER NOT NULL);
CREATE TABLE qualifications(id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL, insurer_number TEXT NOT NULL,
  birth TEXT NOT NULL, symbol TEXT NOT NULL, number TEXT NOT NULL, branch TEXT NOT NULL, family INTEGER NOT NULL, insured_name TEXT NOT NULL,
  qual_date TEXT NOT NULL, disq_date TEXT, loss_reason TEXT, ratio TEXT NOT NULL, loaded INTEGER NOT NULL);
CREATE TABLE cards(serial TEXT PRIMARY KEY, person_id INTEGER NOT NULL, not_after TEXT NOT NULL,
  revoked INTEGER NOT NULL, no_pin INTEGER NOT NULL);
CREATE TABLE limit_certs(person_id INTEGER PRIMARY KEY, classification TEXT NOT NULL, flag TEXT NOT NULL,
  cert_date TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT NOT NULL);
CREATE TABLE specific_diseases(person_id INTEGER NOT NULL, category TEXT NOT NULL, cert_date TEXT NOT NULL,
  valid_from TEXT NOT NULL, valid_to TEXT NOT NULL, self_pay INTEGER NOT NULL);
"; // the public_aid table is in PUBLIC_AID_SCHEMA (also created for data directories made before it existed)

/// 医療扶助 records: one per person on 生活保護.
pub const PUBLIC_AID_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS public_aid(person_id INTEGER PRIMARY KEY, public_expense_number TEXT NOT NULL,
  beneficiary_number TEXT NOT NULL, welfare_office TEXT NOT NULL, district_contact TEXT NOT NULL,
  handling_contact TEXT NOT NULL, start_date TEXT NOT NULL, restricted INTEGER NOT NULL,
  registration_day INTEGER NOT NULL, self_pay INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS subsidies(person_id INTEGER NOT NULL, public_expense_number TEXT NOT NULL,
  beneficiary_number TEXT NOT NULL, name TEXT NOT NULL, self_pay_limit INTEGER NOT NULL, valid_from TEXT NOT NULL,
  valid_to TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS subsidies_by_person ON subsidies(person_id);
";

/// Indexes built after the bulk load (cheaper than maintaining them row by row). The birth date is
/// copied into `qualifications` so that 保険者番号 + 番号 + 生年月日 is one index probe: 番号 alone
/// repeats across 記号 (hundreds of rows per value in a large 協会けんぽ branch).
pub const POPULATION_INDEXES: &str = "
CREATE INDEX qual_by_number ON qualifications(insurer_number, number, birth);
CREATE INDEX qual_by_person ON qualifications(person_id);
CREATE INDEX people_by_name ON people(name_key, birth, sex);
CREATE INDEX people_by_kana ON people(kana_key, birth, sex);
CREATE INDEX cards_by_person ON cards(person_id);
CREATE INDEX diseases_by_person ON specific_diseases(person_id);
";

/// Write a population of `count` people (at least [`FIXTURE_COUNT`]) into a fresh database.
pub fn generate(conn: &mut Connection, seed: u64, count: i64) -> Result<(), CentralError> {
    if count < FIXTURE_COUNT {
        return Err(CentralError::InvalidArgument(format!(
            "the population must hold at least {FIXTURE_COUNT} people (the fixed scenario people)"
        )));
    }
    conn.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-200000; PRAGMA temp_store=MEMORY;")?;
    conn.execute_batch(POPULATION_SCHEMA)?;
    conn.execute_batch(PUBLIC_AID_SCHEMA)?;
    let tx = conn.transaction()?;
    {
        let mut meta = tx.prepare("INSERT INTO meta(key, value) VALUES (?1, ?2)")?;
        meta.execute(params!["seed", seed.to_string()])?;
        meta.execute(params!["population", count.to_string()])?;
        meta.execute(params!["world_date", ymd(world_date())])?;
        let mut ins =
            tx.prepare("INSERT INTO insurers(number, name, kind, pref) VALUES (?1, ?2, ?3, ?4)")?;
        for i in insurer::all_insurers() {
            ins.execute(params![i.number, i.name, i.kind.as_str(), i.pref])?;
        }
        let mut people = tx.prepare(
            "INSERT INTO people(id, name, kana, name_key, kana_key, sex, birth, post, address, pref)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut quals = tx.prepare(
            "INSERT INTO qualifications(person_id, insurer_number, symbol, number, branch, family, insured_name,
             qual_date, disq_date, loss_reason, ratio, loaded, birth) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        let mut cards = tx.prepare("INSERT INTO cards(serial, person_id, not_after, revoked, no_pin) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut limits = tx.prepare(
            "INSERT INTO limit_certs(person_id, classification, flag, cert_date, valid_from, valid_to) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut diseases = tx.prepare(
            "INSERT INTO specific_diseases(person_id, category, cert_date, valid_from, valid_to, self_pay) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut subsidies = tx.prepare(
            "INSERT INTO subsidies(person_id, public_expense_number, beneficiary_number, name, self_pay_limit,
             valid_from, valid_to) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut aids = tx.prepare(
            "INSERT INTO public_aid(person_id, public_expense_number, beneficiary_number, welfare_office,
             district_contact, handling_contact, start_date, restricted, registration_day, self_pay)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for id in 1..=count {
            let g = generate_person(seed, id);
            let p = &g.person;
            people.execute(params![
                p.id,
                p.name,
                p.kana,
                name_key(&p.name),
                name_key(&p.kana),
                p.sex,
                ymd(p.birth),
                p.post,
                p.address,
                p.pref
            ])?;
            for q in &g.qualifications {
                quals.execute(params![
                    q.person_id,
                    q.insurer_number,
                    q.symbol,
                    q.number,
                    q.branch,
                    q.family,
                    q.insured_name,
                    ymd(q.qual_date),
                    q.disq_date.map(ymd),
                    q.loss_reason,
                    q.ratio,
                    q.loaded,
                    ymd(p.birth)
                ])?;
            }
            if let Some(c) = &g.card {
                cards.execute(params![
                    c.serial,
                    c.person_id,
                    ymd(c.not_after),
                    c.revoked,
                    c.no_pin
                ])?;
            }
            if let Some(l) = &g.limit {
                limits.execute(params![
                    l.person_id,
                    l.classification,
                    l.flag,
                    ymd(l.cert_date),
                    ymd(l.valid_from),
                    ymd(l.valid_to)
                ])?;
            }
            if let Some(d) = &g.disease {
                diseases.execute(params![
                    d.person_id,
                    d.category,
                    ymd(d.cert_date),
                    ymd(d.valid_from),
                    ymd(d.valid_to),
                    d.self_pay
                ])?;
            }
            for s in &g.subsidies {
                subsidies.execute(params![
                    s.person_id,
                    s.public_expense_number,
                    s.beneficiary_number,
                    s.name,
                    s.self_pay_limit,
                    ymd(s.valid_from),
                    ymd(s.valid_to)
                ])?;
            }
            if let Some(a) = &g.aid {
                aids.execute(params![
                    a.person_id,
                    a.public_expense_number,
                    a.beneficiary_number,
                    a.welfare_office,
                    a.district_contact,
                    a.handling_contact,
                    ymd(a.start),
                    a.restricted,
                    a.registration_day,
                    a.self_pay
                ])?;
            }
        }
    }
    tx.commit()?;
    conn.execute_batch(POPULATION_INDEXES)?;
    conn.execute_batch("ANALYZE;")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_valid() {
        for id in 1..300 {
            let a = generate_person(99, id);
            let b = generate_person(99, id);
            assert_eq!(a.person.name, b.person.name);
            assert_eq!(a.person.birth, b.person.birth);
            assert!(!a.qualifications.is_empty());
            for q in &a.qualifications {
                assert!(
                    insurer::is_valid_insurer_number(&q.insurer_number),
                    "{}",
                    q.insurer_number
                );
            }
        }
        assert_ne!(
            generate_person(1, 500).person.birth,
            generate_person(2, 500).person.birth
        );
    }

    #[test]
    fn a_share_of_people_is_on_medical_assistance_with_valid_numbers() {
        let on_aid: Vec<Generated> = (FIXTURE_COUNT + 1..FIXTURE_COUNT + 3001)
            .map(|id| generate_person(7, id))
            .filter(|g| g.aid.is_some())
            .collect();
        // 1.6 % expected; anything between 0.5 % and 3 % of 3000 is the same population shape.
        assert!((15..=90).contains(&on_aid.len()), "{}", on_aid.len());
        for g in &on_aid {
            let a = g.aid.as_ref().expect("aid");
            assert!(a.public_expense_number.starts_with("12"));
            assert!(insurer::is_valid_insurer_number(&a.public_expense_number));
            assert_eq!(a.beneficiary_number.len(), 7);
            assert!(a.welfare_office.ends_with("福祉事務所"));
            // Whoever was in 国保 or 後期高齢者医療 lost it the day before the aid began (02).
            let q = &g.qualifications[0];
            if q.loss_reason == Some("02") {
                assert_eq!(q.disq_date, Some(a.start - time::Duration::days(1)));
            }
        }
        assert!(
            on_aid
                .iter()
                .any(|g| g.qualifications[0].loss_reason == Some("02"))
        );
        assert!(
            on_aid
                .iter()
                .any(|g| g.qualifications[0].disq_date.is_none()),
            "some keep their employee insurance (併用)"
        );
        for id in [
            fixtures::MEDICAL_AID,
            fixtures::MEDICAL_AID_UNREGISTERED,
            fixtures::MEDICAL_AID_RESTRICTED,
            fixtures::INSURED_AND_AID,
        ] {
            assert!(generate_person(7, id).aid.is_some(), "fixture {id}");
        }
        assert!(
            generate_person(7, fixtures::MEDICAL_AID_RESTRICTED)
                .aid
                .is_some_and(|a| a.restricted)
        );
    }

    #[test]
    fn some_people_have_medical_subsidy_certificates_with_valid_numbers() {
        let with: Vec<Generated> = (FIXTURE_COUNT + 1..FIXTURE_COUNT + 3001)
            .map(|id| generate_person(7, id))
            .filter(|g| !g.subsidies.is_empty())
            .collect();
        assert!(!with.is_empty());
        for s in with.iter().flat_map(|g| &g.subsidies) {
            assert!(insurer::is_valid_insurer_number(&s.public_expense_number));
            assert_eq!(s.beneficiary_number.len(), 7);
        }
        let child = generate_person(7, fixtures::PRESCHOOL);
        assert_eq!(child.subsidies[0].name, "子ども医療費助成");
        assert!(child.subsidies[0].public_expense_number.starts_with("88"));
    }

    #[test]
    fn name_key_folds_variants() {
        assert_eq!(name_key("𠮷田\u{3000}凛"), "吉田凛");
        assert_eq!(name_key("ﾖｼﾀﾞ ﾘﾝ"), "ﾖｼﾀﾞﾘﾝ");
    }
}
