//! Golden comparison with what real clients read (issue 20, `reference/oqs-clients.md`): a sample built by
//! hand from a client's element list (`tests/data/oqs/clients/`) against a file the product wrote. Used by
//! the tests of the mock central service (results) and of the daemon (`face/` files); no I/O here.

use std::collections::BTreeSet;

use crate::{Message, read_file};

/// Element paths with a value or children (`MessageBody/ResultList/ResultOfQualificationConfirmation/Name`),
/// list positions left out, of a message as our reader understood it.
pub fn paths(message: &Message) -> BTreeSet<String> {
    fn walk(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    if v.is_null() {
                        continue;
                    }
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}/{key}")
                    };
                    out.insert(path.clone());
                    walk(v, &path, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, prefix, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    // Below the variant name (`SingleCheckResult`), which is ours, not an element.
    if let Ok(value) = serde_json::to_value(message) {
        if let Some(inner) = value.as_object().and_then(|m| m.values().next()) {
            walk(inner, "", &mut out);
        }
    }
    out
}

/// Every element name in the raw text of a file (the root `XmlMsg` left out).
pub fn element_names(text: &str) -> BTreeSet<String> {
    text.split('<')
        .skip(1)
        .filter(|t| !t.starts_with(['/', '?', '!']))
        .map(|t| {
            t.split(|c: char| c == '>' || c == '/' || c.is_whitespace())
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .filter(|n| n != "XmlMsg")
        .collect()
}

/// Checks that (1) our reader keeps every element of the hand-built `sample` (UTF-8) and (2) every element
/// path of the sample is in the product's files, at the same place. Several product files count together
/// (e.g. a clinic's 医療券 and a pharmacy's 調剤券 cover the ticket elements between them). The error says
/// what is dropped or missing.
pub fn check_holds(
    sample_name: &str,
    sample: &[u8],
    products: &[(&str, &[u8])],
) -> Result<(), String> {
    let read = read_file(sample_name, sample)
        .map_err(|e| format!("{sample_name}: our reader refuses the clients' shape: {e}"))?;
    let sample_paths = paths(&read.message);
    let names: BTreeSet<String> = sample_paths
        .iter()
        .filter_map(|p| p.rsplit('/').next().map(str::to_owned))
        .collect();
    let text = std::str::from_utf8(sample).map_err(|e| format!("{sample_name}: not UTF-8: {e}"))?;
    let dropped: Vec<_> = element_names(text).difference(&names).cloned().collect();
    if !dropped.is_empty() {
        return Err(format!("{sample_name}: our reader drops {dropped:?}"));
    }
    let mut product_paths = BTreeSet::new();
    for (name, bytes) in products {
        let ours = read_file(name, bytes)
            .map_err(|e| format!("{name}: our reader refuses our own file: {e}"))?;
        product_paths.extend(paths(&ours.message));
    }
    let missing: Vec<_> = sample_paths.difference(&product_paths).cloned().collect();
    if missing.is_empty() {
        Ok(())
    } else {
        let names: Vec<&str> = products.iter().map(|(n, _)| *n).collect();
        Err(format!(
            "{names:?} lack what the client of {sample_name} reads: {missing:?}"
        ))
    }
}
