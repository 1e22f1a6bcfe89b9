//! Linking cards issued by `oqs-virtual-card issue` to the population.
//!
//! Each `card-NNNN.toml` profile names its certificate serial, its variant and its holder's facts.
//! Card *N* is linked to person *N*: the person takes the holder's name, kana, birth date, sex and
//! address (so the card, the kiosk and the central service agree), keeps the qualifications, and the
//! card's serial replaces the person's generated one. Only the fields read here are relied on.

use std::path::Path;

use rusqlite::{Connection, params};
use serde::Deserialize;

use crate::error::CentralError;
use crate::population::name_key;

#[derive(Deserialize)]
struct Profile {
    index: u32,
    serial: String,
    variant: String,
    #[serde(default)]
    revoked: bool,
    holder: Holder,
}

#[derive(Deserialize)]
struct Holder {
    name: String,
    kana: String,
    birth_date: String,
    sex: String,
    address: String,
}

const FULL: &str = "ァアィイゥウェエォオカキクケコサシスセソタチッツテトナニヌネノハヒフヘホマミムメモャヤュユョヨラリルレロワヲンー　";
const HALF: &str = "ｧｱｨｲｩｳｪｴｫｵｶｷｸｹｺｻｼｽｾｿﾀﾁｯﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓｬﾔｭﾕｮﾖﾗﾘﾙﾚﾛﾜｦﾝｰ ";
const VOICED: &str = "ガギグゲゴザジズゼゾダヂヅデドバビブベボヴ";
const VOICED_BASE: &str = "カキクケコサシスセソタチツテトハヒフヘホウ";
const SEMI: &str = "パピプペポ";
const SEMI_BASE: &str = "ハヒフヘホ";

fn half_of(c: char) -> Option<char> {
    FULL.chars()
        .position(|f| f == c)
        .and_then(|i| HALF.chars().nth(i))
}

/// Full-width katakana (and spaces) to the half-width form result files use for カナ氏名.
pub fn to_half_width_kana(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let voiced = VOICED
            .chars()
            .position(|v| v == c)
            .and_then(|i| VOICED_BASE.chars().nth(i))
            .map(|b| (b, 'ﾞ'));
        let semi = SEMI
            .chars()
            .position(|v| v == c)
            .and_then(|i| SEMI_BASE.chars().nth(i))
            .map(|b| (b, 'ﾟ'));
        match voiced.or(semi) {
            Some((base, mark)) => {
                out.push(half_of(base).unwrap_or(base));
                out.push(mark);
            }
            None => out.push(half_of(c).unwrap_or(c)),
        }
    }
    out
}

/// Link every `card-*.toml` in `cards` to the person with the same index. Returns the count.
pub fn link_cards(
    conn: &mut Connection,
    cards: &Path,
    population: i64,
) -> Result<usize, CentralError> {
    let mut paths: Vec<_> = std::fs::read_dir(cards)
        .map_err(|e| CentralError::io(cards, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("card-") && n.ends_with(".toml"))
        })
        .collect();
    paths.sort();
    let tx = conn.transaction()?;
    for path in &paths {
        let bad = |reason: String| CentralError::CardProfile {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| CentralError::io(path, e))?;
        let p: Profile = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let id = i64::from(p.index);
        if id < 1 || id > population {
            return Err(bad(format!(
                "card index {} is outside the population 1..={population}",
                p.index
            )));
        }
        let birth: String = p
            .holder
            .birth_date
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if birth.len() != 8 {
            return Err(bad(format!(
                "birth_date {} is not YYYY-MM-DD",
                p.holder.birth_date
            )));
        }
        let sex = match p.holder.sex.as_str() {
            "male" => 1,
            "female" => 2,
            _ => 3,
        };
        let kana = to_half_width_kana(&p.holder.kana);
        tx.execute(
            "UPDATE people SET name = ?2, kana = ?3, name_key = ?4, kana_key = ?5, sex = ?6, birth = ?7, address = ?8 WHERE id = ?1",
            params![id, p.holder.name, kana, name_key(&p.holder.name), name_key(&kana), sex, birth, p.holder.address],
        )?;
        tx.execute(
            "UPDATE qualifications SET insured_name = ?2 WHERE person_id = ?1 AND family = 1",
            params![id, p.holder.name],
        )?;
        // The qualifications are found by the person's birth date too (checks by numbers, the access
        // history): they must carry the card holder's.
        tx.execute(
            "UPDATE qualifications SET birth = ?2 WHERE person_id = ?1",
            params![id, birth],
        )?;
        tx.execute(
            "DELETE FROM cards WHERE person_id = ?1 OR serial = ?2",
            params![id, p.serial.to_uppercase()],
        )?;
        tx.execute(
            "INSERT INTO cards(serial, person_id, not_after, revoked, no_pin) VALUES (?1, ?2, '', ?3, ?4)",
            params![p.serial.to_uppercase(), id, p.revoked || p.variant == "revoked", p.variant == "face-only"],
        )?;
    }
    tx.commit()?;
    Ok(paths.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kana_to_half_width() {
        assert_eq!(FULL.chars().count(), HALF.chars().count());
        assert_eq!(VOICED.chars().count(), VOICED_BASE.chars().count());
        assert_eq!(to_half_width_kana("ヤマダ　タロウ"), "ﾔﾏﾀﾞ ﾀﾛｳ");
        assert_eq!(to_half_width_kana("パピプペポ・ヴ"), "ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ・ｳﾞ");
        assert_eq!(to_half_width_kana("ガッコウ"), "ｶﾞｯｺｳ");
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,30}") {
            let _ = to_half_width_kana(&s);
        }
    }
}
