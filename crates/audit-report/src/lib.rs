//! The answer to a patient's inquiry "who looked at my medical information, and why": the facility's audit
//! rows about one patient, as a CSV file and as a printable A4 PDF with Japanese text.
//!
//! - [`ReportRow::from_record`] turns an audit row of `facility-store` into a report line: when it was
//!   viewed (the central service's access time, which is the time the patient sees in マイナポータル, and the
//!   terminal's own time), who viewed it, how the patient was identified, the items shown and the reason.
//! - [`write_csv`]: UTF-8 with a byte-order mark (so spreadsheet programs in Japan open it correctly), one row
//!   per access, quoted per RFC 4180.
//! - [`write_pdf`]: the same lines on A4 pages, with a CJK TrueType font embedded as a subset (printpdf with
//!   allsorts subsetting). [`find_cjk_font`] finds IPAGothic from Debian's `fonts-ipafont-gothic`, or takes
//!   `OQS_REPORT_FONT`.
//! - [`form::write_form_pdf`]: the viewer's official forms (特定健康診査受診結果, 診療／薬剤情報一覧) on the same
//!   PDF path, with the header repeated on every page.
//!
//! The report holds no patient identifiers beyond what the caller puts in its title: rows name the patient
//! only by the pseudonymous reference of the audit log.

pub mod form;

use std::io::Write;
use std::path::{Path, PathBuf};

use facility_store::{AuditRecord, TerminalAuditRecord};
use printpdf::{Mm, PdfDocument};

/// What can go wrong writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "no Japanese font found for the PDF; install the Debian package fonts-ipafont-gothic or set \
         OQS_REPORT_FONT to a TrueType font file"
    )]
    NoFont,
    #[error("cannot read the font {path}: {source}")]
    Font {
        path: String,
        source: std::io::Error,
    },
    #[error("the PDF could not be made: {0}")]
    Pdf(String),
}

/// One access in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub audit_id: i64,
    /// The terminal's time of the audit row, `YYYY-MM-DD HH:MM:SS` local.
    pub logged_at: String,
    /// The central service's access time `yyyyMMddHHmmss` (JST), when the access went through it.
    pub central_accessed_at: Option<String>,
    /// What happened, in Japanese (救急時医療情報閲覧 …).
    pub action: String,
    /// Who viewed: display name and account.
    pub viewer: String,
    /// How the patient was identified, named as the access history names it.
    pub method: String,
    pub items: Vec<String>,
    pub reason: String,
    /// The pseudonymous patient reference of the audit log (shown only on reports of many patients).
    pub patient_ref: Option<String>,
    /// The terminal whose log holds the row (`[store] terminal_id`; shown on facility-wide reports, where
    /// record numbers are per terminal).
    pub terminal: Option<String>,
}

/// The notice on a report that could read only this terminal's log (the facility server was away).
pub const THIS_TERMINAL_ONLY: &str = "院内サーバに接続できなかったため、この端末の記録のみです";

fn action_label(action: &str) -> String {
    match action {
        "emergency_lookup" => "救急時医療情報閲覧".into(),
        "emergency_lookup_started" => "救急時医療情報閲覧（照会のみ記録・結果の記録なし）".into(),
        "disaster_lookup" => "災害時医療情報閲覧".into(),
        "view_medical_info" => "診療・薬剤情報等の閲覧".into(),
        "visual_check_override" | "visual_check_confirmed" => "目視確認".into(),
        other => other.into(),
    }
}

fn method_label(action: &str, method: Option<&str>) -> String {
    let mode = match action {
        "emergency_lookup" => "救急時医療情報閲覧",
        "disaster_lookup" => "災害時医療情報閲覧",
        _ => return method.unwrap_or_default().to_string(),
    };
    match method {
        Some("card") => format!("{mode}（マイナ保険証）"),
        Some("four_facts") => format!("{mode}（4情報）"),
        Some("insurance_numbers") => format!("{mode}（保険者番号等）"),
        other => format!("{mode}（{}）", other.unwrap_or("不明")),
    }
}

impl ReportRow {
    /// A report line from an audit row. The rows written by the daemon's lookups carry, in `detail`, the
    /// central service's access time and method label and the viewer's display name.
    pub fn from_record(record: &AuditRecord) -> Self {
        let e = &record.entry;
        let detail: serde_json::Value = e
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(serde_json::Value::Null);
        let text = |key: &str| {
            detail
                .get(key)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Self {
            audit_id: record.id,
            logged_at: local_time(record.at),
            central_accessed_at: text("central_accessed_at"),
            action: action_label(&e.action),
            viewer: text("viewer").unwrap_or_else(|| e.actor.clone()),
            method: text("central_method")
                .unwrap_or_else(|| method_label(&e.action, e.method.as_deref())),
            items: e.items.clone(),
            reason: e.reason.clone().unwrap_or_default(),
            patient_ref: e.patient_ref.clone(),
            terminal: None,
        }
    }

    /// A report line from a facility-wide audit row, naming the terminal that wrote it.
    pub fn from_terminal_record(row: &TerminalAuditRecord) -> Self {
        Self {
            terminal: row.terminal_id.clone(),
            ..Self::from_record(&row.record)
        }
    }

    /// The central access time as `YYYY-MM-DD HH:MM:SS`, or the terminal's time when there is none.
    pub fn shown_time(&self) -> String {
        match &self.central_accessed_at {
            Some(t) if t.len() == 14 && t.bytes().all(|b| b.is_ascii_digit()) => format!(
                "{}-{}-{} {}:{}:{}",
                &t[0..4],
                &t[4..6],
                &t[6..8],
                &t[8..10],
                &t[10..12],
                &t[12..14]
            ),
            _ => self.logged_at.clone(),
        }
    }
}

fn local_time(millis: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// The report as a whole.
#[derive(Debug, Clone)]
pub struct Report {
    /// e.g. the facility's name and code.
    pub facility: String,
    /// How the patient is named on the report (the clerk's choice; the rows never name the patient).
    pub patient_label: String,
    pub generated_at: String,
    pub rows: Vec<ReportRow>,
    /// A warning printed above everything else, e.g. 「監査ログの改ざんを検出」 when the report was written from
    /// a log that failed its verification.
    pub notice: Option<String>,
    /// Rows are about many patients (the emergency-view review): each names its patient reference.
    pub patient_refs: bool,
    /// Rows come from several terminals: each names its terminal (CSV: a column 端末 after 記録番号).
    pub terminals: bool,
}

impl Report {
    /// A report made at `generated_at` (the caller's clock, oqs-clock in the daemon and the tool), printed in
    /// JST whatever the machine's time zone.
    pub fn new(
        facility: String,
        patient_label: String,
        rows: Vec<ReportRow>,
        generated_at: std::time::SystemTime,
    ) -> Self {
        // JST has no daylight saving: UTC + 9 h, formatted as a wall clock.
        let jst = chrono::DateTime::<chrono::Utc>::from(generated_at) + chrono::TimeDelta::hours(9);
        Self {
            facility,
            patient_label,
            generated_at: jst.format("%Y-%m-%d %H:%M").to_string(),
            rows,
            notice: None,
            patient_refs: false,
            terminals: false,
        }
    }

    /// A report about many patients, each row naming its patient reference (CSV: a last column 患者参照).
    pub fn with_patient_refs(mut self) -> Self {
        self.patient_refs = true;
        self
    }

    /// A facility-wide report: each row names the terminal that wrote it.
    pub fn with_terminals(mut self) -> Self {
        self.terminals = true;
        self
    }

    /// The report marked with `notice` at its top (CSV: a line before the header; PDF: under the title). A
    /// second notice goes on a line of its own after the first.
    /// A report over the rows a facility-wide read found: with a 端末 column when there is a facility
    /// server, and the notice [`THIS_TERMINAL_ONLY`] when it could not be read.
    pub fn covering(self, coverage: &facility_store::AuditCoverage) -> Self {
        match coverage {
            facility_store::AuditCoverage::SingleTerminal => self,
            facility_store::AuditCoverage::Facility => self.with_terminals(),
            facility_store::AuditCoverage::ThisTerminalOnly { .. } => {
                self.with_terminals().with_notice(THIS_TERMINAL_ONLY)
            }
        }
    }

    pub fn with_notice(mut self, notice: impl Into<String>) -> Self {
        let notice = notice.into();
        self.notice = Some(match self.notice.take() {
            Some(before) => format!("{before}\n{notice}"),
            None => notice,
        });
        self
    }
}

const CSV_HEADER: [&str; 8] = [
    "記録番号",
    "閲覧日時(中央記録)",
    "端末記録日時",
    "操作",
    "閲覧者",
    "閲覧方法",
    "閲覧項目",
    "閲覧理由",
];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The CSV text (with BOM).
pub fn csv_text(report: &Report) -> String {
    let mut out = String::from("\u{feff}");
    if let Some(notice) = &report.notice {
        for line in notice.lines() {
            out.push_str(&csv_field(line));
            out.push_str("\r\n");
        }
    }
    let mut header: Vec<&str> = CSV_HEADER.to_vec();
    if report.terminals {
        header.insert(1, "端末");
    }
    out.push_str(&header.join(","));
    if report.patient_refs {
        out.push_str(",患者参照");
    }
    out.push_str("\r\n");
    for r in &report.rows {
        let fields = [
            r.audit_id.to_string(),
            r.central_accessed_at.clone().unwrap_or_default(),
            r.logged_at.clone(),
            r.action.clone(),
            r.viewer.clone(),
            r.method.clone(),
            r.items.join("・"),
            r.reason.clone(),
        ];
        let mut line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        if report.terminals {
            line.insert(1, csv_field(r.terminal.as_deref().unwrap_or_default()));
        }
        if report.patient_refs {
            line.push(csv_field(r.patient_ref.as_deref().unwrap_or_default()));
        }
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// Writes [`csv_text`] to `path`.
pub fn write_csv(report: &Report, path: &Path) -> Result<(), ReportError> {
    std::fs::write(path, csv_text(report)).map_err(write_error(path))
}

/// A Japanese TrueType font: `OQS_REPORT_FONT`, else IPAGothic from `fonts-ipafont-gothic`.
pub fn find_cjk_font() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OQS_REPORT_FONT").map(PathBuf::from) {
        return p.exists().then_some(p);
    }
    [
        "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
        "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
        "/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Splits text into lines of at most `width` half-width columns (full-width characters count two).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = if c.is_ascii() { 1 } else { 2 };
        if used + w > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        line.push(c);
        used += w;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Writes the report as an A4 PDF with `font` (a TrueType file) embedded as a subset.
pub fn write_pdf(report: &Report, font: &Path, path: &Path) -> Result<(), ReportError> {
    let font_bytes = std::fs::read(font).map_err(|source| ReportError::Font {
        path: font.display().to_string(),
        source,
    })?;
    let (doc, first_page, first_layer) = PdfDocument::new(
        "医療情報の閲覧記録 / Access report",
        Mm(210.0),
        Mm(297.0),
        "report",
    );
    let font_ref = doc
        .add_external_font_with_subsetting(font_bytes.as_slice(), true)
        .map_err(|e| ReportError::Pdf(e.to_string()))?;
    let mut layer = doc.get_page(first_page).get_layer(first_layer);
    let left = 15.0;
    let line_height = 5.0;
    let bottom = 15.0;
    let mut y = 280.0;
    let mut page_no = 1;
    let put = |layer: &printpdf::PdfLayerReference, text: &str, size: f32, x: f32, y: f32| {
        layer.use_text(text, size, Mm(x), Mm(y), &font_ref);
    };
    put(
        &layer,
        "医療情報の閲覧記録（救急時・災害時等）",
        16.0,
        left,
        y,
    );
    y -= 9.0;
    if let Some(notice) = &report.notice {
        for line in notice.lines().flat_map(|l| wrap(l, 80)) {
            put(&layer, &line, 12.0, left, y);
            y -= line_height + 2.0;
        }
    }
    for line in [
        format!("医療機関: {}", report.facility),
        format!("対象の方: {}", report.patient_label),
        format!("作成日時: {}", report.generated_at),
        format!(
            "件数: {} 件（閲覧日時はマイナポータルの閲覧履歴と同じ中央の記録時刻です）",
            report.rows.len()
        ),
    ] {
        put(&layer, &line, 10.0, left, y);
        y -= line_height + 1.0;
    }
    y -= 3.0;
    if report.rows.is_empty() {
        put(&layer, "該当する閲覧の記録はありません。", 11.0, left, y);
    }
    for (n, row) in report.rows.iter().enumerate() {
        let mut lines = vec![format!(
            "{}. {}  {}  （記録番号 {}）",
            n + 1,
            row.shown_time(),
            row.action,
            row.audit_id
        )];
        if report.terminals {
            lines.push(format!("端末: {}", row.terminal.as_deref().unwrap_or("-")));
        }
        lines.push(format!("閲覧者: {}", row.viewer));
        if report.patient_refs {
            lines.push(format!(
                "患者参照: {}",
                row.patient_ref.as_deref().unwrap_or("-")
            ));
        }
        lines.push(format!("方法: {}", row.method));
        lines.extend(wrap(&format!("閲覧項目: {}", row.items.join("・")), 96));
        lines.extend(wrap(
            &format!(
                "理由: {}",
                if row.reason.is_empty() {
                    "（記録なし）"
                } else {
                    &row.reason
                }
            ),
            96,
        ));
        let needed = line_height * lines.len() as f32 + 3.0;
        if y - needed < bottom {
            page_no += 1;
            let (page, layer_index) = doc.add_page(Mm(210.0), Mm(297.0), format!("page {page_no}"));
            layer = doc.get_page(page).get_layer(layer_index);
            y = 280.0;
        }
        for (i, line) in lines.iter().enumerate() {
            let (size, x) = if i == 0 {
                (10.5, left)
            } else {
                (9.5, left + 5.0)
            };
            put(&layer, line, size, x, y);
            y -= line_height;
        }
        y -= 3.0;
    }
    let bytes = doc
        .save_to_bytes()
        .map_err(|e| ReportError::Pdf(e.to_string()))?;
    let mut file = std::fs::File::create(path).map_err(write_error(path))?;
    file.write_all(&bytes).map_err(write_error(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_time_of_making_is_the_callers_clock_in_jst() {
        // 15:00 UTC on 1970-01-01 is midnight of the next day in Japan, whatever this machine's zone.
        let at = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(15 * 3600);
        let report = Report::new("f".into(), "p".into(), Vec::new(), at);
        assert_eq!(report.generated_at, "1970-01-02 00:00");
    }

    use super::*;
    use facility_store::AuditEntry;

    fn record() -> AuditRecord {
        AuditRecord {
            id: 7,
            at: 1_700_000_000_000,
            entry: AuditEntry {
                actor: "dr".into(),
                action: "emergency_lookup".into(),
                patient_ref: Some("ab".into()),
                items: vec!["受診歴".into(), "薬剤情報".into()],
                method: Some("four_facts".into()),
                reason: Some("意識障害, \"搬送\"".into()),
                detail: Some(
                    r#"{"central_accessed_at":"20261122120000","central_method":"救急時医療情報閲覧（4情報）","viewer":"田中 (dr)"}"#
                        .into(),
                ),
            },
        }
    }

    #[test]
    fn rows_take_the_central_time_and_method() {
        let row = ReportRow::from_record(&record());
        assert_eq!(row.central_accessed_at.as_deref(), Some("20261122120000"));
        assert_eq!(row.shown_time(), "2026-11-22 12:00:00");
        assert_eq!(row.method, "救急時医療情報閲覧（4情報）");
        assert_eq!(row.viewer, "田中 (dr)");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let report = Report::new(
            "f".into(),
            "p".into(),
            vec![ReportRow::from_record(&record())],
            std::time::SystemTime::UNIX_EPOCH,
        );
        let text = csv_text(&report);
        assert!(text.starts_with('\u{feff}'));
        assert!(text.contains("\"意識障害, \"\"搬送\"\"\""), "{text}");
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn a_marked_report_says_so_before_anything_else() {
        let report = Report::new(
            "f".into(),
            "p".into(),
            vec![ReportRow::from_record(&record())],
            std::time::SystemTime::UNIX_EPOCH,
        )
        .with_notice("監査ログの改ざんを検出: row 3");
        let text = csv_text(&report);
        assert_eq!(
            text.lines().next(),
            Some("\u{feff}監査ログの改ざんを検出: row 3")
        );
        assert_eq!(text.lines().count(), 3);
    }

    #[test]
    fn a_facility_wide_report_names_the_terminal_of_each_row_and_keeps_every_notice() {
        let row = TerminalAuditRecord {
            terminal_id: Some("viewer-1".into()),
            record: record(),
        };
        let report = Report::new(
            "f".into(),
            "p".into(),
            vec![ReportRow::from_terminal_record(&row)],
            std::time::SystemTime::UNIX_EPOCH,
        )
        .with_terminals()
        .with_notice("監査ログの改ざんを検出: row 3")
        .with_notice("院内サーバに接続できなかったため、この端末の記録のみです");
        let text = csv_text(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "\u{feff}監査ログの改ざんを検出: row 3");
        assert_eq!(
            lines[1],
            "院内サーバに接続できなかったため、この端末の記録のみです"
        );
        assert!(
            lines[2].starts_with("記録番号,端末,閲覧日時(中央記録)"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].starts_with("7,viewer-1,20261122120000"),
            "{}",
            lines[3]
        );
        // A single-terminal report keeps its columns.
        let single = Report::new(
            "f".into(),
            "p".into(),
            vec![ReportRow::from_record(&record())],
            std::time::SystemTime::UNIX_EPOCH,
        );
        assert!(!csv_text(&single).contains("端末,"));
    }

    #[test]
    fn pdf_embeds_the_japanese_font() {
        let Some(font) = find_cjk_font() else {
            panic!("install fonts-ipafont-gothic (apt-get install -y fonts-ipafont-gothic)");
        };
        let dir = tempfile::tempdir().unwrap();
        let rows = (0..40).map(|_| ReportRow::from_record(&record())).collect();
        let report = Report::new(
            "テスト医院".into(),
            "患者".into(),
            rows,
            std::time::SystemTime::UNIX_EPOCH,
        );
        let path = dir.path().join("r.pdf");
        write_pdf(&report, &font, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"%PDF"));
        assert!(
            bytes.windows(9).any(|w| w == b"/FontFile"),
            "no embedded font"
        );
        // Subsetting keeps the file small although the font is several megabytes.
        assert!(bytes.len() < 1_500_000, "{} bytes", bytes.len());
    }

    #[test]
    fn wrap_counts_full_width_as_two() {
        assert_eq!(wrap("あいう", 4), vec!["あい", "う"]);
        assert_eq!(wrap("", 4), vec![""]);
    }
}
