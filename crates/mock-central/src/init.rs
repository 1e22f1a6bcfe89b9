//! `init`: create a data directory (population database, PKI files, credentials, facility records).

use std::path::Path;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::error::CentralError;
use crate::pki;
use crate::population;
use crate::store::{DB_FILE, EnvironmentSettings, RUNTIME_SCHEMA};

/// The main facility (石川県, 医科): its 10-digit 医療機関コード.
pub const MAIN_FACILITY_CODE: &str = "1710100014";
pub const MAIN_FACILITY_NAME: &str = "石川みなと総合病院";
pub const MAIN_FACILITY_PREF: u8 = 17;
/// Its 市区町村 (disaster windows may be opened per municipality, seed 004).
pub const MAIN_FACILITY_MUNICIPALITY: &str = "珠洲市";
/// A second facility in 東京都, for isolation tests (consents are per facility, disaster windows per
/// prefecture).
pub const SECOND_FACILITY_CODE: &str = "1310100026";
pub const SECOND_FACILITY_NAME: &str = "中野さぎのみやクリニック";
pub const SECOND_FACILITY_PREF: u8 = 13;
pub const SECOND_FACILITY_MUNICIPALITY: &str = "中野区";
/// The registered face-reader id whose key `init` writes.
pub const READER_ID: &str = "reader-01";

pub const ADMIN_CREDENTIAL_FILE: &str = "admin-credential.txt";
pub const SECOND_ADMIN_CREDENTIAL_FILE: &str = "admin-credential-tokyo.txt";
pub const OPERATOR_TOKEN_FILE: &str = "operator-token.txt";
pub const INFO_FILE: &str = "central.json";
/// Sub-directory holding the mock JPKI CA (`jpki-ca.crt`, `jpki-ca.key`) the card certificates chain to.
pub const JPKI_DIR: &str = "jpki";

/// Choices of `init` beyond size and seed.
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// Share the mock JPKI CA in this directory (created from the seed if empty), e.g. the one
    /// `oqs-virtual-card issue` uses; without it the CA is generated from the seed.
    pub jpki_ca_dir: Option<std::path::PathBuf>,
    /// Link the `card-*.toml` profiles of `oqs-virtual-card issue --out DIR` to people (card N to
    /// person N); their directory also holds the shared JPKI CA unless `jpki_ca_dir` says otherwise.
    pub cards_dir: Option<std::path::PathBuf>,
}

/// `central.json`: what a tool needs to know about a data directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DirInfo {
    pub seed: u64,
    pub population: i64,
    pub facility_code: String,
    pub second_facility_code: String,
    pub reader_id: String,
}

fn random_secret() -> Result<String, CentralError> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 18];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| CentralError::Tls("no system randomness".into()))?;
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

fn write_secret(dir: &Path, name: &str, value: &str) -> Result<(), CentralError> {
    let path = dir.join(name);
    std::fs::write(&path, format!("{value}\n")).map_err(|e| CentralError::io(&path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| CentralError::io(&path, e))?;
    }
    Ok(())
}

/// Create a complete data directory. Fails if `dir` already holds a database.
pub fn init(
    dir: &Path,
    population_size: i64,
    seed: u64,
    options: &InitOptions,
) -> Result<DirInfo, CentralError> {
    std::fs::create_dir_all(dir).map_err(|e| CentralError::io(dir, e))?;
    let db = dir.join(DB_FILE);
    if db.exists() {
        return Err(CentralError::AlreadyInitialised(dir.to_path_buf()));
    }
    let mut conn = Connection::open(&db)?;
    population::generate(&mut conn, seed, population_size)?;
    conn.execute_batch(RUNTIME_SCHEMA)?;

    let jpki_err = |e: mock_jpki::PkiError| CentralError::Tls(format!("mock JPKI CA: {e}"));
    if let Some(cards) = &options.cards_dir {
        let n = crate::cards::link_cards(&mut conn, cards, population_size)?;
        tracing::info!(cards = n, "linked virtual cards to people");
    }
    let ca = match options.jpki_ca_dir.as_ref().or(options.cards_dir.as_ref()) {
        Some(shared) => mock_jpki::MockJpkiCa::load_or_generate(shared, seed).map_err(jpki_err)?,
        None => mock_jpki::MockJpkiCa::generate(seed).map_err(jpki_err)?,
    };
    let jpki_dir = dir.join(JPKI_DIR);
    std::fs::create_dir_all(&jpki_dir).map_err(|e| CentralError::io(&jpki_dir, e))?;
    ca.save(&jpki_dir).map_err(jpki_err)?;

    let reader = pki::create_all(dir, MAIN_FACILITY_CODE, SECOND_FACILITY_CODE)?;
    let settings = serde_json::to_string(&EnvironmentSettings::default())
        .map_err(|e| CentralError::InvalidArgument(e.to_string()))?;
    for (code, name, pref, municipality, file) in [
        (
            MAIN_FACILITY_CODE,
            MAIN_FACILITY_NAME,
            MAIN_FACILITY_PREF,
            MAIN_FACILITY_MUNICIPALITY,
            ADMIN_CREDENTIAL_FILE,
        ),
        (
            SECOND_FACILITY_CODE,
            SECOND_FACILITY_NAME,
            SECOND_FACILITY_PREF,
            SECOND_FACILITY_MUNICIPALITY,
            SECOND_ADMIN_CREDENTIAL_FILE,
        ),
    ] {
        let secret = random_secret()?;
        write_secret(dir, file, &secret)?;
        let hash = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
        conn.execute(
            "INSERT INTO facilities(code, name, pref, admin_hash, settings, municipality)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![code, name, pref, hash.as_ref(), settings, municipality],
        )?;
    }
    conn.execute(
        "INSERT INTO readers(reader_id, facility_code, public_key) VALUES (?1, ?2, ?3)",
        params![READER_ID, MAIN_FACILITY_CODE, reader.public_key()],
    )?;
    write_secret(dir, OPERATOR_TOKEN_FILE, &random_secret()?)?;
    drop(conn);

    let info = DirInfo {
        seed,
        population: population_size,
        facility_code: MAIN_FACILITY_CODE.into(),
        second_facility_code: SECOND_FACILITY_CODE.into(),
        reader_id: READER_ID.into(),
    };
    let path = dir.join(INFO_FILE);
    let json = serde_json::to_vec_pretty(&info)
        .map_err(|e| CentralError::InvalidArgument(e.to_string()))?;
    std::fs::write(&path, json).map_err(|e| CentralError::io(&path, e))?;
    Ok(info)
}

/// Read a one-line secret file of a data directory.
pub fn read_secret(dir: &Path, name: &str) -> Result<String, CentralError> {
    let path = dir.join(name);
    Ok(std::fs::read_to_string(&path)
        .map_err(|e| CentralError::io(&path, e))?
        .trim()
        .to_string())
}
