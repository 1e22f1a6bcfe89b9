//! SQLite access for the running service: a connection pool, the runtime tables (facilities,
//! readers, consents, reference numbers, bulk jobs, access log, disaster windows) and the queries
//! the request path needs, all with cached prepared statements.

use std::path::{Path, PathBuf};

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::dates::{parse_ymd, ymd, ymdhms};
use crate::error::CentralError;
use crate::population::name_key;

pub const DB_FILE: &str = "central.sqlite3";

pub const RUNTIME_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS facilities(code TEXT PRIMARY KEY, name TEXT NOT NULL, pref INTEGER NOT NULL,
  admin_hash BLOB NOT NULL, settings TEXT NOT NULL, municipality TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS readers(reader_id TEXT PRIMARY KEY, facility_code TEXT NOT NULL, public_key BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS consents(person_id INTEGER NOT NULL, facility_code TEXT NOT NULL, kind TEXT NOT NULL,
  cons_time TEXT NOT NULL, available_time TEXT NOT NULL, PRIMARY KEY(person_id, facility_code, kind));
CREATE TABLE IF NOT EXISTS reference_numbers(facility_code TEXT NOT NULL, qualification_id INTEGER NOT NULL,
  reference_number TEXT NOT NULL, PRIMARY KEY(facility_code, qualification_id));
CREATE TABLE IF NOT EXISTS bulk_jobs(reception_number TEXT PRIMARY KEY, facility_code TEXT NOT NULL,
  received_at TEXT NOT NULL, ready_at INTEGER NOT NULL, request BLOB NOT NULL, kind TEXT NOT NULL DEFAULT 'OQSmuquc01',
  outcome BLOB);
CREATE TABLE IF NOT EXISTS access_log(id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL, facility_code TEXT NOT NULL,
  facility_name TEXT NOT NULL, at TEXT NOT NULL, items TEXT NOT NULL, method TEXT NOT NULL, viewer_id TEXT, reason TEXT);
CREATE INDEX IF NOT EXISTS access_by_person ON access_log(person_id, at);
CREATE TABLE IF NOT EXISTS disaster_windows(id INTEGER PRIMARY KEY, prefs TEXT NOT NULL, from_time TEXT NOT NULL,
  to_time TEXT NOT NULL, municipalities TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS checkin_answers(facility_code TEXT NOT NULL, arbitrary_id TEXT NOT NULL,
  answer BLOB NOT NULL, content_type TEXT NOT NULL, error_code TEXT, answered_at TEXT NOT NULL,
  PRIMARY KEY(facility_code, arbitrary_id));
";

/// A check-in answer as it was first sent ([`Store::checkin_answer`]).
#[derive(Debug, Clone)]
pub struct KeptAnswer {
    pub body: Vec<u8>,
    pub content_type: String,
    pub error_code: Option<String>,
}

/// 環境設定情報 of one facility (see seeds/001: 利用文字コード, 手帳/薬剤/診療/特定病名情報 …).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSettings {
    /// 利用文字コード: "UTF-8" or "Shift_JIS"; the encoding of result files.
    pub character_code: String,
    /// 手帳情報
    pub notebook_info: bool,
    /// 薬剤情報
    pub medication_info: bool,
    /// 診療情報
    pub diagnosis_info: bool,
    /// 手術情報
    pub operation_info: bool,
    /// 特定健診情報
    pub checkup_info: bool,
    /// 特定病名情報
    pub specific_disease_name_info: bool,
    /// 特定疾病患者登録
    pub specific_disease_registration: bool,
    /// 電子処方箋利用区分: "none", "e_prescription", "e_prescription_with_linkage"
    pub e_prescription: String,
    /// リフィル処方箋
    pub refill_prescription: bool,
    /// 医療扶助情報
    pub medical_assistance_info: bool,
    /// 医療費助成 (公費, PMH): the kiosk asks 「医療費助成の各種受給者証を利用しますか」 and the answer carries the
    /// patient's 受給者証 (project convention, docs/file-interface.md). Off unless turned on.
    #[serde(default)]
    pub medical_subsidy_info: bool,
}

impl Default for EnvironmentSettings {
    fn default() -> Self {
        EnvironmentSettings {
            character_code: "UTF-8".into(),
            notebook_info: false,
            medication_info: true,
            diagnosis_info: true,
            operation_info: true,
            checkup_info: true,
            specific_disease_name_info: true,
            specific_disease_registration: true,
            e_prescription: "e_prescription_with_linkage".into(),
            refill_prescription: false,
            medical_assistance_info: true,
            medical_subsidy_info: false,
        }
    }
}

impl EnvironmentSettings {
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.character_code.as_str(), "UTF-8" | "Shift_JIS") {
            return Err("character_code must be \"UTF-8\" or \"Shift_JIS\"".into());
        }
        if !matches!(
            self.e_prescription.as_str(),
            "none" | "e_prescription" | "e_prescription_with_linkage"
        ) {
            return Err("e_prescription must be \"none\", \"e_prescription\" or \"e_prescription_with_linkage\"".into());
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct Facility {
    pub code: String,
    pub name: String,
    pub pref: u8,
    /// 市区町村 (e.g. 珠洲市): disaster windows may cover only some municipalities of a prefecture.
    pub municipality: String,
    pub settings: EnvironmentSettings,
}

/// One person with one qualification, as a result record needs them.
#[derive(Clone)]
pub struct Record {
    pub person_id: i64,
    pub qualification_id: i64,
    pub name: String,
    pub kana: String,
    pub sex: u8,
    pub birth: String,
    pub post: String,
    pub address: String,
    pub pref: u8,
    pub insurer_number: String,
    pub insurer_name: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    pub family: u8,
    pub insured_name: String,
    pub qual_date: String,
    pub disq_date: Option<String>,
    pub loss_reason: Option<String>,
    pub ratio: String,
    pub limit: Option<LimitRow>,
    pub diseases: Vec<DiseaseRow>,
    pub reference_number: Option<String>,
}

impl std::fmt::Debug for Record {
    /// Patient identifiers are left out on purpose (redacted by type).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("person_id", &self.person_id)
            .field("qualification_id", &self.qualification_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub struct LimitRow {
    pub classification: String,
    pub flag: String,
    pub cert_date: String,
    pub valid_from: String,
    pub valid_to: String,
}

#[derive(Clone, Debug)]
pub struct DiseaseRow {
    pub category: String,
    pub cert_date: String,
    pub valid_from: String,
    pub valid_to: String,
    pub self_pay: u32,
}

/// OQSCD006 資格有効性.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// 1 有効
    Valid,
    /// 2 無効
    Invalid,
    /// 3 無効 (新しい資格あり)
    InvalidNewExists,
    /// 4 該当資格なし
    NotFound,
    /// 5 複数該当
    Multiple,
}

impl Validity {
    pub fn code(self) -> &'static str {
        match self {
            Validity::Valid => "1",
            Validity::Invalid => "2",
            Validity::InvalidNewExists => "3",
            Validity::NotFound => "4",
            Validity::Multiple => "5",
        }
    }
}

/// The answer to an eligibility question.
#[derive(Clone, Debug)]
pub struct Eligibility {
    pub validity: Validity,
    pub records: Vec<Record>,
}

/// Insurance keys of a search (保険者番号・記号・番号・枝番・生年月日).
#[derive(Clone)]
pub struct SearchKeys {
    pub insurer_number: String,
    pub symbol: Option<String>,
    pub number: String,
    pub branch: Option<String>,
    pub birth: String,
}

impl std::fmt::Debug for SearchKeys {
    /// Patient identifiers are left out on purpose (redacted by type).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchKeys").finish_non_exhaustive()
    }
}

/// Card row: the central's knowledge of a card certificate serial.
#[derive(Clone, Debug)]
pub struct CardRow {
    pub person_id: i64,
    pub revoked: bool,
    pub no_pin: bool,
}

/// Fold widths and drop spaces so that "１２" equals "12" and " 123456" equals "123456".
pub fn normalise_key(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '－' | '‐' | 'ー' => '-',
            other => other,
        })
        .collect()
}

#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<SqliteConnectionManager>,
    pub dir: PathBuf,
    pub seed: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

pub type Conn = r2d2::PooledConnection<SqliteConnectionManager>;

const RECORD_SELECT: &str = "SELECT p.id, q.id, p.name, p.kana, p.sex, p.birth, p.post, p.address, p.pref,
  q.insurer_number, i.name, q.symbol, q.number, q.branch, q.family, q.insured_name, q.qual_date, q.disq_date,
  q.loss_reason, q.ratio, q.loaded
  FROM qualifications q JOIN people p ON p.id = q.person_id JOIN insurers i ON i.number = q.insurer_number";

struct RawRecord {
    record: Record,
    loaded: bool,
}

fn raw_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRecord> {
    Ok(RawRecord {
        record: Record {
            person_id: row.get(0)?,
            qualification_id: row.get(1)?,
            name: row.get(2)?,
            kana: row.get(3)?,
            sex: row.get(4)?,
            birth: row.get(5)?,
            post: row.get(6)?,
            address: row.get(7)?,
            pref: row.get(8)?,
            insurer_number: row.get(9)?,
            insurer_name: row.get(10)?,
            symbol: row.get(11)?,
            number: row.get(12)?,
            branch: row.get(13)?,
            family: row.get(14)?,
            insured_name: row.get(15)?,
            qual_date: row.get(16)?,
            disq_date: row.get(17)?,
            loss_reason: row.get(18)?,
            ratio: row.get(19)?,
            limit: None,
            diseases: Vec::new(),
            reference_number: None,
        },
        loaded: row.get(20)?,
    })
}

/// Columns added after a data directory's first version: `CREATE TABLE IF NOT EXISTS` leaves an old table as
/// it was, so each is added here when missing (with a default that says what old rows meant).
const ADDED_COLUMNS: [(&str, &str, &str); 4] = [
    // Before municipalities: whole prefectures.
    ("facilities", "municipality", "TEXT NOT NULL DEFAULT ''"),
    (
        "disaster_windows",
        "municipalities",
        "TEXT NOT NULL DEFAULT ''",
    ),
    // Before 照会番号 uploads were kept as jobs: every job was a 一括照会.
    ("bulk_jobs", "kind", "TEXT NOT NULL DEFAULT 'OQSmuquc01'"),
    // What a job's processing produced when it is done at upload (照会番号 registrations).
    ("bulk_jobs", "outcome", "BLOB"),
];

fn migrate_columns(c: &rusqlite::Connection) -> Result<(), CentralError> {
    for (table, column, definition) in ADDED_COLUMNS {
        let has: bool = c.query_row(
            "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
            params![table, column],
            |r| r.get(0),
        )?;
        if !has {
            c.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {definition}"
            ))?;
        }
    }
    Ok(())
}

impl Store {
    /// Open the database of an initialised data directory with a pool of `size` connections.
    pub fn open(dir: &Path, size: u32) -> Result<Store, CentralError> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            return Err(CentralError::NotInitialised(dir.to_path_buf()));
        }
        {
            let c = rusqlite::Connection::open(&path)?;
            c.execute_batch("PRAGMA journal_mode=WAL;")?;
            c.execute_batch(RUNTIME_SCHEMA)?;
            // Data directories made before 医療扶助 existed get an empty table (nobody on aid).
            c.execute_batch(crate::population::PUBLIC_AID_SCHEMA)?;
            migrate_columns(&c)?;
        }
        let manager = SqliteConnectionManager::file(&path).with_init(|c| {
            c.execute_batch(
                "PRAGMA busy_timeout=5000; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-20000;",
            )?;
            c.set_prepared_statement_cache_capacity(64);
            Ok(())
        });
        // Checkout tests would run a statement per query; a broken SQLite file handle is not a thing.
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .test_on_check_out(false)
            .build(manager)?;
        let seed = {
            let c = pool.get()?;
            c.query_row("SELECT value FROM meta WHERE key = 'seed'", [], |r| {
                r.get::<_, String>(0)
            })?
            .parse()
            .unwrap_or(0)
        };
        Ok(Store {
            pool,
            dir: dir.to_path_buf(),
            seed,
        })
    }

    pub fn conn(&self) -> Result<Conn, CentralError> {
        Ok(self.pool.get()?)
    }

    pub fn facility(&self, code: &str) -> Result<Option<Facility>, CentralError> {
        let c = self.conn()?;
        let mut st = c.prepare_cached(
            "SELECT code, name, pref, settings, municipality FROM facilities WHERE code = ?1",
        )?;
        let row = st
            .query_row([code], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u8>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .optional()?;
        Ok(
            row.map(|(code, name, pref, settings, municipality)| Facility {
                code,
                name,
                pref,
                municipality,
                settings: serde_json::from_str(&settings).unwrap_or_default(),
            }),
        )
    }

    /// Check the facility's admin credential (compared by SHA-256 digest).
    pub fn check_admin(&self, code: &str, credential: &str) -> Result<bool, CentralError> {
        let c = self.conn()?;
        let mut st = c.prepare_cached("SELECT admin_hash FROM facilities WHERE code = ?1")?;
        let stored: Option<Vec<u8>> = st.query_row([code], |r| r.get(0)).optional()?;
        let given = ring::digest::digest(&ring::digest::SHA256, credential.as_bytes());
        Ok(stored.is_some_and(|s| s.as_slice() == given.as_ref()))
    }

    pub fn update_settings(
        &self,
        code: &str,
        settings: &EnvironmentSettings,
    ) -> Result<(), CentralError> {
        let c = self.conn()?;
        let json = serde_json::to_string(settings)
            .map_err(|e| CentralError::InvalidArgument(e.to_string()))?;
        c.prepare_cached("UPDATE facilities SET settings = ?2 WHERE code = ?1")?
            .execute(params![code, json])?;
        Ok(())
    }

    pub fn reader_key(&self, reader_id: &str) -> Result<Option<(String, Vec<u8>)>, CentralError> {
        let c = self.conn()?;
        let mut st =
            c.prepare_cached("SELECT facility_code, public_key FROM readers WHERE reader_id = ?1")?;
        Ok(st
            .query_row([reader_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    pub fn card(&self, serial: &str) -> Result<Option<CardRow>, CentralError> {
        let c = self.conn()?;
        let mut st =
            c.prepare_cached("SELECT person_id, revoked, no_pin FROM cards WHERE serial = ?1")?;
        Ok(st
            .query_row([serial], |r| {
                Ok(CardRow {
                    person_id: r.get(0)?,
                    revoked: r.get(1)?,
                    no_pin: r.get(2)?,
                })
            })
            .optional()?)
    }

    fn decorate(&self, c: &Conn, rec: &mut Record, facility: &str) -> Result<(), CentralError> {
        let mut lim = c.prepare_cached(
            "SELECT classification, flag, cert_date, valid_from, valid_to FROM limit_certs WHERE person_id = ?1",
        )?;
        rec.limit = lim
            .query_row([rec.person_id], |r| {
                Ok(LimitRow {
                    classification: r.get(0)?,
                    flag: r.get(1)?,
                    cert_date: r.get(2)?,
                    valid_from: r.get(3)?,
                    valid_to: r.get(4)?,
                })
            })
            .optional()?;
        let mut dis = c.prepare_cached(
            "SELECT category, cert_date, valid_from, valid_to, self_pay FROM specific_diseases WHERE person_id = ?1",
        )?;
        rec.diseases = dis
            .query_map([rec.person_id], |r| {
                Ok(DiseaseRow {
                    category: r.get(0)?,
                    cert_date: r.get(1)?,
                    valid_from: r.get(2)?,
                    valid_to: r.get(3)?,
                    self_pay: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut rn = c.prepare_cached(
            "SELECT reference_number FROM reference_numbers WHERE facility_code = ?1 AND qualification_id = ?2",
        )?;
        rec.reference_number = rn
            .query_row(params![facility, rec.qualification_id], |r| r.get(0))
            .optional()?;
        Ok(())
    }

    fn person_has_current(&self, c: &Conn, person_id: i64, on: &str) -> Result<bool, CentralError> {
        let mut st = c.prepare_cached(
            "SELECT 1 FROM qualifications WHERE person_id = ?1 AND loaded = 1 AND qual_date <= ?2
             AND (disq_date IS NULL OR disq_date >= ?2) LIMIT 1",
        )?;
        Ok(st.exists(params![person_id, on])?)
    }

    fn judge(&self, c: &Conn, rec: &Record, on: &str) -> Result<Validity, CentralError> {
        if rec.qual_date.as_str() > on {
            return Ok(Validity::NotFound);
        }
        match &rec.disq_date {
            Some(d) if d.as_str() < on => {
                if self.person_has_current(c, rec.person_id, on)? {
                    Ok(Validity::InvalidNewExists)
                } else {
                    Ok(Validity::Invalid)
                }
            }
            _ => Ok(Validity::Valid),
        }
    }

    /// Eligibility by insurance keys on the date `on` (QualificationConfirmationDate).
    pub fn eligibility(
        &self,
        keys: &SearchKeys,
        on: Date,
        facility: &str,
    ) -> Result<Eligibility, CentralError> {
        let c = self.conn()?;
        let on = ymd(on);
        let mut st = c.prepare_cached(&format!(
            "{RECORD_SELECT} WHERE q.insurer_number = ?1 AND q.number = ?2 AND (?3 = '' OR q.birth = ?3) AND q.loaded = 1"
        ))?;
        let number = normalise_key(&keys.number);
        let insurer = normalise_key(&keys.insurer_number);
        let symbol = keys
            .symbol
            .as_deref()
            .map(normalise_key)
            .filter(|s| !s.is_empty());
        let branch = keys
            .branch
            .as_deref()
            .map(normalise_key)
            .filter(|s| !s.is_empty());
        let mut found: Vec<Record> = st
            .query_map(params![insurer, number, keys.birth], raw_record)?
            .filter_map(|r| r.ok())
            .map(|r| r.record)
            .filter(|r| {
                symbol
                    .as_ref()
                    .is_none_or(|s| normalise_key(&r.symbol) == *s)
            })
            .filter(|r| {
                branch
                    .as_ref()
                    .is_none_or(|b| normalise_key(&r.branch) == *b)
            })
            .collect();
        let mut people: Vec<i64> = found.iter().map(|r| r.person_id).collect();
        people.sort_unstable();
        people.dedup();
        match people.len() {
            0 => Ok(Eligibility {
                validity: Validity::NotFound,
                records: vec![],
            }),
            1 => {
                // Several rows for one person: the latest qualification decides.
                found.sort_by(|a, b| b.qual_date.cmp(&a.qual_date));
                found.truncate(1);
                let validity = self.judge(&c, &found[0], &on)?;
                for r in &mut found {
                    self.decorate(&c, r, facility)?;
                }
                Ok(Eligibility {
                    validity,
                    records: found,
                })
            }
            _ => {
                for r in &mut found {
                    self.decorate(&c, r, facility)?;
                }
                Ok(Eligibility {
                    validity: Validity::Multiple,
                    records: found,
                })
            }
        }
    }

    /// Eligibility of a known person (card check-in, emergency): the current loaded qualification,
    /// else the latest lost one.
    pub fn eligibility_of_person(
        &self,
        person_id: i64,
        on: Date,
        facility: &str,
    ) -> Result<Eligibility, CentralError> {
        let c = self.conn()?;
        let on = ymd(on);
        let mut st = c.prepare_cached(&format!(
            "{RECORD_SELECT} WHERE q.person_id = ?1 ORDER BY q.qual_date DESC"
        ))?;
        let rows: Vec<RawRecord> = st
            .query_map([person_id], raw_record)?
            .filter_map(|r| r.ok())
            .collect();
        let mut loaded: Vec<Record> = rows
            .into_iter()
            .filter(|r| r.loaded)
            .map(|r| r.record)
            .collect();
        let current = loaded.iter().position(|r| {
            r.qual_date.as_str() <= on.as_str()
                && r.disq_date
                    .as_ref()
                    .is_none_or(|d| d.as_str() >= on.as_str())
        });
        match current {
            Some(i) => {
                let mut r = loaded.swap_remove(i);
                self.decorate(&c, &mut r, facility)?;
                Ok(Eligibility {
                    validity: Validity::Valid,
                    records: vec![r],
                })
            }
            None if loaded.is_empty() => Ok(Eligibility {
                validity: Validity::NotFound,
                records: vec![],
            }),
            None => {
                let mut r = loaded.swap_remove(0);
                self.decorate(&c, &mut r, facility)?;
                Ok(Eligibility {
                    validity: Validity::Invalid,
                    records: vec![r],
                })
            }
        }
    }

    /// Person ids matching the four facts; at most `limit` (callers only need to know 0, 1 or more).
    pub fn four_fact_search(
        &self,
        name: &str,
        birth: &str,
        sex: u8,
        fourth: &str,
        limit: usize,
    ) -> Result<Vec<i64>, CentralError> {
        let c = self.conn()?;
        let key = name_key(name);
        let fourth = normalise_key(fourth);
        let mut st = c.prepare_cached(
            "SELECT p.id, p.address, i.name FROM people p
               JOIN qualifications q ON q.person_id = p.id AND q.loaded = 1
               JOIN insurers i ON i.number = q.insurer_number
             WHERE (p.name_key = ?1 OR p.kana_key = ?1) AND p.birth = ?2 AND p.sex = ?3",
        )?;
        let mut ids: Vec<i64> = st
            .query_map(params![key, birth, sex], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .filter_map(|r| r.ok())
            .filter(|(_, addr, ins)| {
                normalise_key(addr).contains(&fourth) || normalise_key(ins).contains(&fourth)
            })
            .map(|(id, _, _)| id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(limit);
        Ok(ids)
    }

    /// People insured under 保険者番号・記号・番号 (枝番 optional) without a birth date, as YZK/TKK
    /// requests identify them: one decorated current record per person.
    pub fn people_by_number(
        &self,
        keys: &SearchKeys,
        on: Date,
    ) -> Result<Vec<Record>, CentralError> {
        let c = self.conn()?;
        let on = ymd(on);
        let mut st = c.prepare_cached(&format!(
            "{RECORD_SELECT} WHERE q.insurer_number = ?1 AND q.number = ?2 AND q.loaded = 1"
        ))?;
        let symbol = keys
            .symbol
            .as_deref()
            .map(normalise_key)
            .filter(|s| !s.is_empty());
        let branch = keys
            .branch
            .as_deref()
            .map(normalise_key)
            .filter(|s| !s.is_empty());
        let mut found: Vec<Record> = st
            .query_map(
                params![
                    normalise_key(&keys.insurer_number),
                    normalise_key(&keys.number)
                ],
                raw_record,
            )?
            .filter_map(|r| r.ok())
            .map(|r| r.record)
            .filter(|r| {
                symbol
                    .as_ref()
                    .is_none_or(|s| normalise_key(&r.symbol) == *s)
            })
            .filter(|r| {
                branch
                    .as_ref()
                    .is_none_or(|b| normalise_key(&r.branch) == *b)
            })
            .filter(|r| r.qual_date.as_str() <= on.as_str())
            .collect();
        found.sort_by_key(|r| r.person_id);
        found.dedup_by_key(|r| r.person_id);
        for r in &mut found {
            self.decorate(&c, r, "")?;
        }
        Ok(found)
    }

    /// Size of the population (from `meta`).
    pub fn population(&self) -> i64 {
        self.conn()
            .ok()
            .and_then(|c| {
                c.query_row("SELECT value FROM meta WHERE key = 'population'", [], |r| {
                    r.get::<_, String>(0)
                })
                .ok()
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Person ids whose loaded qualification matches insurance keys (disaster lookup by numbers).
    pub fn people_by_keys(&self, keys: &SearchKeys, on: Date) -> Result<Vec<i64>, CentralError> {
        let e = self.eligibility(keys, on, "")?;
        let mut ids: Vec<i64> = e.records.iter().map(|r| r.person_id).collect();
        ids.dedup();
        Ok(ids)
    }

    /// The answer already given to a facility's check-in `arbitrary_id`, if any.
    pub fn checkin_answer(
        &self,
        facility: &str,
        arbitrary_id: &str,
    ) -> Result<Option<KeptAnswer>, CentralError> {
        let c = self.conn()?;
        Ok(c.query_row(
            "SELECT answer, content_type, error_code FROM checkin_answers WHERE facility_code = ?1 AND arbitrary_id = ?2",
            params![facility, arbitrary_id],
            |r| {
                Ok(KeptAnswer {
                    body: r.get(0)?,
                    content_type: r.get(1)?,
                    error_code: r.get(2)?,
                })
            },
        )
        .optional()?)
    }

    /// Keeps the answer to a check-in so that the same check-in sent again gets the same answer and is
    /// recorded once. The first answer wins.
    pub fn keep_checkin_answer(
        &self,
        facility: &str,
        arbitrary_id: &str,
        answer: &[u8],
        content_type: &str,
        error_code: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), CentralError> {
        self.conn()?.execute(
            "INSERT OR IGNORE INTO checkin_answers(facility_code, arbitrary_id, answer, content_type, error_code, answered_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![facility, arbitrary_id, answer, content_type, error_code, ymdhms(at)],
        )?;
        Ok(())
    }

    /// How many check-ins of a facility were answered (each counted once however often it was sent).
    pub fn checkin_answer_count(&self, facility: &str) -> Result<i64, CentralError> {
        Ok(self.conn()?.query_row(
            "SELECT count(*) FROM checkin_answers WHERE facility_code = ?1",
            [facility],
            |r| r.get(0),
        )?)
    }

    pub fn record_consents(
        &self,
        person_id: i64,
        facility: &str,
        kinds: &[&str],
        at: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<(), CentralError> {
        let c = self.conn()?;
        let mut st = c.prepare_cached(
            "INSERT INTO consents(person_id, facility_code, kind, cons_time, available_time) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(person_id, facility_code, kind) DO UPDATE SET cons_time = ?4, available_time = ?5",
        )?;
        for k in kinds {
            st.execute(params![person_id, facility, k, ymdhms(at), ymdhms(until)])?;
        }
        Ok(())
    }

    /// The people who gave this facility a consent (of any kind) on a day from `from` to `to` (yyyyMMdd), in
    /// id order: the facility's patients of that period, for the bulk queries by period.
    pub fn patients_consented(
        &self,
        facility: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<i64>, CentralError> {
        let c = self.conn()?;
        let mut st = c.prepare_cached(
            "SELECT DISTINCT person_id FROM consents WHERE facility_code = ?1
             AND substr(cons_time, 1, 8) BETWEEN ?2 AND ?3 ORDER BY person_id",
        )?;
        let rows = st.query_map(params![facility, from, to], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<i64>, _>>()?)
    }

    /// (cons_time, available_time) of a consent, if one was ever given.
    pub fn consent(
        &self,
        person_id: i64,
        facility: &str,
        kind: &str,
    ) -> Result<Option<(String, String)>, CentralError> {
        let c = self.conn()?;
        let mut st = c.prepare_cached(
            "SELECT cons_time, available_time FROM consents WHERE person_id = ?1 AND facility_code = ?2 AND kind = ?3",
        )?;
        Ok(st
            .query_row(params![person_id, facility, kind], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    /// Every consent of a person at a facility: (kind, cons_time, available_time).
    pub fn consents(
        &self,
        person_id: i64,
        facility: &str,
    ) -> Result<Vec<(String, String, String)>, CentralError> {
        let c = self.conn()?;
        let mut st = c.prepare_cached(
            "SELECT kind, cons_time, available_time FROM consents WHERE person_id = ?1 AND facility_code = ?2",
        )?;
        let rows = st
            .query_map(params![person_id, facility], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Test and operator hook: move a consent's expiry (e.g. into the past).
    pub fn set_consent_expiry(
        &self,
        person_id: i64,
        facility: &str,
        available: OffsetDateTime,
    ) -> Result<usize, CentralError> {
        let c = self.conn()?;
        Ok(c.execute(
            "UPDATE consents SET available_time = ?3 WHERE person_id = ?1 AND facility_code = ?2",
            params![person_id, facility, ymdhms(available)],
        )?)
    }

    /// The insurer's registration reaches the service: every qualification of the person not loaded yet
    /// (a 資格取得届 still on its way, the data lag behind 該当資格なし) is loaded. Returns how many.
    pub fn load_pending_qualifications(&self, person_id: i64) -> Result<usize, CentralError> {
        let c = self.conn()?;
        Ok(c.execute(
            "UPDATE qualifications SET loaded = 1 WHERE person_id = ?1 AND loaded = 0",
            params![person_id],
        )?)
    }

    /// The opposite, for tests of 該当資格なし: every qualification of the person is withheld, as if the
    /// insurer had not registered the person yet (a new employee, a newborn). Returns how many.
    pub fn withhold_qualifications(&self, person_id: i64) -> Result<usize, CentralError> {
        let c = self.conn()?;
        Ok(c.execute(
            "UPDATE qualifications SET loaded = 0 WHERE person_id = ?1 AND loaded = 1",
            params![person_id],
        )?)
    }

    pub fn register_reference_number(
        &self,
        facility: &str,
        qualification_id: i64,
        number: &str,
    ) -> Result<(), CentralError> {
        let c = self.conn()?;
        c.prepare_cached(
            "INSERT INTO reference_numbers(facility_code, qualification_id, reference_number) VALUES (?1, ?2, ?3)
             ON CONFLICT(facility_code, qualification_id) DO UPDATE SET reference_number = ?3",
        )?
        .execute(params![facility, qualification_id, number])?;
        Ok(())
    }

    /// Keeps an upload under its 受付番号.
    pub fn insert_bulk_job(&self, reception: &str, job: &BulkJob) -> Result<(), CentralError> {
        let c = self.conn()?;
        c.prepare_cached("INSERT INTO bulk_jobs(reception_number, facility_code, received_at, ready_at, request, kind, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
            .execute(params![
                reception,
                job.facility_code,
                job.received_at,
                job.ready_at,
                job.request,
                job.kind,
                job.outcome
            ])?;
        Ok(())
    }

    pub fn bulk_job(&self, reception: &str) -> Result<Option<BulkJob>, CentralError> {
        let c = self.conn()?;
        let mut st = c.prepare_cached("SELECT facility_code, received_at, ready_at, request, kind, outcome FROM bulk_jobs WHERE reception_number = ?1")?;
        Ok(st
            .query_row([reception], |r| {
                Ok(BulkJob {
                    facility_code: r.get(0)?,
                    received_at: r.get(1)?,
                    ready_at: r.get(2)?,
                    request: r.get(3)?,
                    kind: r.get(4)?,
                    outcome: r.get(5)?,
                })
            })
            .optional()?)
    }

    pub fn log_access(&self, entry: &AccessEntry) -> Result<(), CentralError> {
        let c = self.conn()?;
        c.prepare_cached(
            "INSERT INTO access_log(person_id, facility_code, facility_name, at, items, method, viewer_id, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            entry.person_id,
            entry.facility_code,
            entry.facility_name,
            entry.at,
            entry.items.join(","),
            entry.method,
            entry.viewer_id,
            entry.reason
        ])?;
        Ok(())
    }

    pub fn access_history(&self, person_id: i64) -> Result<Vec<AccessEntry>, CentralError> {
        let c = self.conn()?;
        let mut st = c.prepare_cached(
            "SELECT person_id, facility_code, facility_name, at, items, method, viewer_id, reason FROM access_log
             WHERE person_id = ?1 ORDER BY at DESC, id DESC",
        )?;
        let rows = st
            .query_map([person_id], |r| {
                Ok(AccessEntry {
                    person_id: r.get(0)?,
                    facility_code: r.get(1)?,
                    facility_name: r.get(2)?,
                    at: r.get(3)?,
                    items: r
                        .get::<_, String>(4)?
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    method: r.get(5)?,
                    viewer_id: r.get(6)?,
                    reason: r.get(7)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Open a disaster window for prefectures `prefs` (only their `municipalities` when some are named,
    /// e.g. 鶴岡市 in 山形県) between `from` and `to` (yyyyMMddHHmmss).
    pub fn open_disaster_window(
        &self,
        prefs: &[u8],
        municipalities: &[String],
        from: &str,
        to: &str,
    ) -> Result<i64, CentralError> {
        let c = self.conn()?;
        let list = prefs
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        c.execute(
            "INSERT INTO disaster_windows(prefs, from_time, to_time, municipalities) VALUES (?1, ?2, ?3, ?4)",
            params![list, from, to, municipalities.join(",")],
        )?;
        Ok(c.last_insert_rowid())
    }

    pub fn disaster_windows(&self) -> Result<Vec<DisasterWindow>, CentralError> {
        let c = self.conn()?;
        let mut st = c.prepare_cached(
            "SELECT id, prefs, from_time, to_time, municipalities FROM disaster_windows ORDER BY id",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(DisasterWindow {
                    id: r.get(0)?,
                    prefectures: r
                        .get::<_, String>(1)?
                        .split(',')
                        .filter_map(|s| s.parse().ok())
                        .collect(),
                    from: r.get(2)?,
                    to: r.get(3)?,
                    municipalities: r
                        .get::<_, String>(4)?
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The window open for `facility` at `at` (yyyyMMddHHmmss), if any.
    pub fn active_disaster_window(
        &self,
        facility: &Facility,
        at: &str,
    ) -> Result<Option<DisasterWindow>, CentralError> {
        Ok(self
            .disaster_windows()?
            .into_iter()
            .find(|w| w.covers(facility) && w.from.as_str() <= at && at <= w.to.as_str()))
    }

    /// The 医療扶助 record of a person whose aid has begun by `on`, with the person's facts.
    pub fn public_aid(&self, person_id: i64, on: Date) -> Result<Option<AidRecord>, CentralError> {
        let c = self.conn()?;
        let mut st = c.prepare_cached(
            "SELECT p.name, p.kana, p.sex, p.birth, p.post, p.address, a.public_expense_number,
               a.beneficiary_number, a.welfare_office, a.district_contact, a.handling_contact, a.start_date,
               a.restricted, a.registration_day, a.self_pay
             FROM public_aid a JOIN people p ON p.id = a.person_id
             WHERE a.person_id = ?1 AND a.start_date <= ?2",
        )?;
        Ok(st
            .query_row(params![person_id, ymd(on)], |r| {
                Ok(AidRecord {
                    person_id,
                    name: r.get(0)?,
                    kana: r.get(1)?,
                    sex: r.get(2)?,
                    birth: r.get(3)?,
                    post: r.get(4)?,
                    address: r.get(5)?,
                    public_expense_number: r.get(6)?,
                    beneficiary_number: r.get(7)?,
                    welfare_office: r.get(8)?,
                    district_contact: r.get(9)?,
                    handling_contact: r.get(10)?,
                    start: r.get(11)?,
                    restricted: r.get(12)?,
                    registration_day: r.get(13)?,
                    self_pay: r.get(14)?,
                })
            })
            .optional()?)
    }

    /// The 医療費助成 受給者証 (公費, PMH) of a person valid on `on`.
    pub fn subsidies(&self, person_id: i64, on: Date) -> Result<Vec<SubsidyRow>, CentralError> {
        let c = self.conn()?;
        let mut st = c.prepare_cached(
            "SELECT public_expense_number, beneficiary_number, name, self_pay_limit, valid_from, valid_to
             FROM subsidies WHERE person_id = ?1 AND valid_from <= ?2 AND valid_to >= ?2 ORDER BY rowid",
        )?;
        let on = ymd(on);
        let rows = st
            .query_map(params![person_id, on], |r| {
                Ok(SubsidyRow {
                    public_expense_number: r.get(0)?,
                    beneficiary_number: r.get(1)?,
                    name: r.get(2)?,
                    self_pay_limit: r.get(3)?,
                    valid_from: r.get(4)?,
                    valid_to: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Birth date of a person (for checks against four facts).
    pub fn person_birth(&self, person_id: i64) -> Result<Option<Date>, CentralError> {
        let c = self.conn()?;
        let mut st = c.prepare_cached("SELECT birth FROM people WHERE id = ?1")?;
        let b: Option<String> = st.query_row([person_id], |r| r.get(0)).optional()?;
        Ok(b.and_then(|b| parse_ymd(&b)))
    }
}

/// One 医療費助成 受給者証 (公費, PMH).
#[derive(Clone)]
pub struct SubsidyRow {
    pub public_expense_number: String,
    pub beneficiary_number: String,
    /// 制度名.
    pub name: String,
    /// 自己負担上限額 per month (yen).
    pub self_pay_limit: u32,
    pub valid_from: String,
    pub valid_to: String,
}

impl std::fmt::Debug for SubsidyRow {
    /// The 受給者番号 is left out on purpose.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubsidyRow")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A person's 医療扶助 with the facts a result needs ([`Store::public_aid`]).
#[derive(Clone)]
pub struct AidRecord {
    pub person_id: i64,
    pub name: String,
    pub kana: String,
    pub sex: u8,
    pub birth: String,
    pub post: String,
    pub address: String,
    pub public_expense_number: String,
    pub beneficiary_number: String,
    pub welfare_office: String,
    pub district_contact: String,
    pub handling_contact: String,
    /// 保護開始日 yyyyMMdd.
    pub start: String,
    pub restricted: bool,
    /// Day of the month from which that month's tickets are registered; 0 = never.
    pub registration_day: u8,
    pub self_pay: u32,
}

impl std::fmt::Debug for AidRecord {
    /// Patient identifiers are left out on purpose (redacted by type).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AidRecord")
            .field("person_id", &self.person_id)
            .field("restricted", &self.restricted)
            .finish_non_exhaustive()
    }
}

/// A stored bulk upload (一括照会) waiting for its download.
#[derive(Clone, Debug)]
pub struct BulkJob {
    pub facility_code: String,
    /// yyyyMMddHHmmss
    pub received_at: String,
    /// Unix seconds from which the result can be downloaded.
    pub ready_at: i64,
    pub request: Vec<u8>,
    /// The upload's file kind code (`OQSmuquc01`, `OQSmuimm01`, …).
    pub kind: String,
    /// The outcome when the job was processed at upload (照会番号 registrations: the `RefNumberResult` as
    /// JSON), so that downloading it does not process it again.
    pub outcome: Option<Vec<u8>>,
}

/// One line of a patient's access history (what マイナポータル shows).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessEntry {
    #[serde(skip)]
    pub person_id: i64,
    pub facility_code: String,
    pub facility_name: String,
    /// yyyyMMddHHmmss (JST)
    pub at: String,
    /// Items provided, e.g. ["資格情報"], ["薬剤情報", "診療情報"].
    pub items: Vec<String>,
    /// How the access happened: "マイナ保険証 (暗証番号)", "救急時医療情報閲覧", "災害時医療情報閲覧" …
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl std::fmt::Debug for AccessEntry {
    /// Patient identifiers are left out on purpose (redacted by type).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessEntry")
            .field("person_id", &self.person_id)
            .field("facility_code", &self.facility_code)
            .field("at", &self.at)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DisasterWindow {
    pub id: i64,
    pub prefectures: Vec<u8>,
    pub from: String,
    pub to: String,
    /// Only these municipalities of the prefectures (empty: the whole prefectures).
    #[serde(default)]
    pub municipalities: Vec<String>,
}

impl DisasterWindow {
    /// Whether the window is for the facility's area (its prefecture, and its municipality when named).
    pub fn covers(&self, facility: &Facility) -> bool {
        self.prefectures.contains(&facility.pref)
            && (self.municipalities.is_empty()
                || self.municipalities.contains(&facility.municipality))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data directory made before `bulk_jobs.kind` existed: opening it adds the column, and the job it
    /// kept is a 一括照会 as it was then.
    #[test]
    fn an_old_data_directory_gets_the_bulk_job_columns() {
        let dir = tempfile::tempdir().unwrap();
        crate::init::init(dir.path(), 20, 7, &Default::default()).unwrap();
        {
            let c = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
            c.execute_batch(
                "DROP TABLE IF EXISTS bulk_jobs;
                 CREATE TABLE bulk_jobs(reception_number TEXT PRIMARY KEY, facility_code TEXT NOT NULL,
                   received_at TEXT NOT NULL, ready_at INTEGER NOT NULL, request BLOB NOT NULL);
                 INSERT INTO bulk_jobs VALUES ('old', '1311234567', '20240401090000', 0, x'3c3e');",
            )
            .unwrap();
        }
        let store = Store::open(dir.path(), 1).unwrap();
        let old = store.bulk_job("old").unwrap().unwrap();
        assert_eq!(old.kind, "OQSmuquc01");
        assert_eq!(old.outcome, None);
        let new = BulkJob {
            facility_code: "1311234567".into(),
            received_at: "20240401090001".into(),
            ready_at: 0,
            request: b"<>".to_vec(),
            kind: "OQSmuimm01".into(),
            outcome: Some(b"{}".to_vec()),
        };
        store.insert_bulk_job("new", &new).unwrap();
        let read = store.bulk_job("new").unwrap().unwrap();
        assert_eq!((read.kind, read.outcome), (new.kind, new.outcome));
        // Opening again finds the columns there and changes nothing.
        drop(store);
        Store::open(dir.path(), 1).unwrap();
    }
}
