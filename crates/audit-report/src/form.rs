//! The viewer's official forms (特定健康診査受診結果, 診療／薬剤情報一覧) as A4 PDF, through the same printpdf
//! path and embedded font subset as the access report.
//!
//! The app sends the form as it shows it ([`FormDocument`]: title, 作成日, header fields, the disclaimer, and
//! tables of lines), so the screen, the printout and the PDF cannot disagree. Every page repeats the title,
//! 作成日, `n / N ページ` and the header fields; a page that continues ends with 「---次頁へ続く---」, and a
//! table that continues repeats its column headings.

use std::io::Write;
use std::path::Path;

use printpdf::{Line, Mm, PdfDocument, PdfLayerReference, Point};
use serde::{Deserialize, Serialize};

use crate::{ReportError, wrap, write_error};

/// A form as the viewer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormDocument {
    pub title: String,
    /// 作成日 as printed (`2023年3月27日`).
    pub created_on: String,
    /// Header fields (氏名カナ, 氏名, 生年月日 …) as label and value, repeated on every page.
    pub header: Vec<(String, String)>,
    /// Sentences under the header (the disclaimer).
    #[serde(default)]
    pub notes: Vec<String>,
    pub sections: Vec<FormSection>,
    /// Sentences after the last table (※ notes, 健診機関).
    #[serde(default)]
    pub footnotes: Vec<String>,
}

/// A heading and a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormSection {
    pub heading: String,
    pub columns: Vec<String>,
    /// Relative widths of the columns (any positive numbers; equal widths when empty or mismatched).
    #[serde(default)]
    pub widths: Vec<u32>,
    pub rows: Vec<Vec<String>>,
}

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const LEFT: f32 = 12.0;
const RIGHT: f32 = PAGE_W - 12.0;
const TOP: f32 = PAGE_H - 14.0;
const BOTTOM: f32 = 18.0;
const LINE: f32 = 4.4;
const TEXT: f32 = 8.5;
/// Half-width columns per millimetre at [`TEXT`] points (a full-width glyph is about 3 mm).
const COLS_PER_MM: f32 = 0.66;
pub const CONTINUED: &str = "---次頁へ続く---";

enum Item<'a> {
    Heading(&'a str),
    Columns(&'a FormSection),
    Row(&'a FormSection, Vec<Vec<String>>),
    Note(String),
}

fn column_x(section: &FormSection) -> Vec<(f32, f32)> {
    let n = section.columns.len().max(1);
    let weights: Vec<f32> = if section.widths.len() == n && section.widths.iter().all(|w| *w > 0) {
        section.widths.iter().map(|w| *w as f32).collect()
    } else {
        vec![1.0; n]
    };
    let total: f32 = weights.iter().sum();
    let mut x = LEFT;
    weights
        .iter()
        .map(|w| {
            let width = (RIGHT - LEFT) * w / total;
            let start = x;
            x += width;
            (start, width)
        })
        .collect()
}

fn wrapped_cells(section: &FormSection, row: &[String]) -> Vec<Vec<String>> {
    column_x(section)
        .iter()
        .enumerate()
        .map(|(i, (_, width))| {
            let cols = ((width - 2.0) * COLS_PER_MM).max(2.0) as usize;
            wrap(row.get(i).map(String::as_str).unwrap_or(""), cols)
        })
        .collect()
}

fn height(item: &Item<'_>) -> f32 {
    match item {
        Item::Heading(_) => LINE + 3.0,
        Item::Columns(_) => LINE + 1.5,
        Item::Row(_, cells) => cells.iter().map(Vec::len).max().unwrap_or(1) as f32 * LINE + 1.0,
        Item::Note(_) => LINE,
    }
}

/// The header block's lines: title line, then the fields two to a line.
fn header_lines(doc: &FormDocument) -> Vec<String> {
    doc.header
        .chunks(2)
        .map(|pair| {
            pair.iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("　　")
        })
        .collect()
}

/// Lays the form out on pages: which items go on which page.
fn paginate<'a>(doc: &'a FormDocument, body_top: f32) -> Vec<Vec<Item<'a>>> {
    let mut items = Vec::new();
    for s in &doc.sections {
        items.push(Item::Heading(&s.heading));
        items.push(Item::Columns(s));
        for r in &s.rows {
            items.push(Item::Row(s, wrapped_cells(s, r)));
        }
    }
    for n in &doc.footnotes {
        for line in wrap(n, 110) {
            items.push(Item::Note(line));
        }
    }
    let mut pages: Vec<Vec<Item<'a>>> = vec![Vec::new()];
    let mut y = body_top;
    let mut open_section: Option<&FormSection> = None;
    for item in items {
        let h = height(&item);
        if y - h < BOTTOM + LINE && !pages.last().is_some_and(Vec::is_empty) {
            pages.push(Vec::new());
            y = body_top;
            // A table that goes on repeats its column headings.
            if let (Item::Row(s, _), Some(_)) = (&item, open_section) {
                y -= height(&Item::Columns(s));
                if let Some(page) = pages.last_mut() {
                    page.push(Item::Columns(s));
                }
            }
        }
        match &item {
            Item::Columns(s) | Item::Row(s, _) => open_section = Some(s),
            _ => open_section = None,
        }
        y -= h;
        if let Some(page) = pages.last_mut() {
            page.push(item);
        }
    }
    pages
}

/// Writes the form as an A4 PDF with `font` (a TrueType file) embedded as a subset; returns the page count.
pub fn write_form_pdf(doc: &FormDocument, font: &Path, path: &Path) -> Result<usize, ReportError> {
    let font_bytes = std::fs::read(font).map_err(|source| ReportError::Font {
        path: font.display().to_string(),
        source,
    })?;
    let (pdf, first_page, first_layer) =
        PdfDocument::new(&doc.title, Mm(PAGE_W), Mm(PAGE_H), "form");
    let font_ref = pdf
        .add_external_font_with_subsetting(font_bytes.as_slice(), true)
        .map_err(|e| ReportError::Pdf(e.to_string()))?;
    let put = |layer: &PdfLayerReference, text: &str, size: f32, x: f32, y: f32| {
        if !text.is_empty() {
            layer.use_text(text, size, Mm(x), Mm(y), &font_ref);
        }
    };
    let rule = |layer: &PdfLayerReference, y: f32| {
        layer.add_line(Line {
            points: vec![
                (Point::new(Mm(LEFT), Mm(y)), false),
                (Point::new(Mm(RIGHT), Mm(y)), false),
            ],
            is_closed: false,
        });
    };
    let header = header_lines(doc);
    let notes: Vec<String> = doc.notes.iter().flat_map(|n| wrap(n, 110)).collect();
    let body_top = TOP - 10.0 - (header.len() + notes.len()) as f32 * LINE - 4.0;
    let pages = paginate(doc, body_top);
    let count = pages.len();
    for (n, items) in pages.iter().enumerate() {
        let layer = if n == 0 {
            pdf.get_page(first_page).get_layer(first_layer)
        } else {
            let (page, layer) = pdf.add_page(Mm(PAGE_W), Mm(PAGE_H), format!("page {}", n + 1));
            pdf.get_page(page).get_layer(layer)
        };
        put(&layer, &doc.title, 14.0, LEFT, TOP);
        put(
            &layer,
            &format!("作成日: {}　{} / {}ページ", doc.created_on, n + 1, count),
            TEXT,
            RIGHT - 62.0,
            TOP,
        );
        let mut y = TOP - 8.0;
        for line in header.iter().chain(&notes) {
            put(&layer, line, TEXT, LEFT, y);
            y -= LINE;
        }
        rule(&layer, y + 1.5);
        y = body_top;
        for item in items {
            match item {
                Item::Heading(h) => {
                    y -= 1.5;
                    put(&layer, h, 10.0, LEFT, y);
                    y -= LINE + 1.5;
                }
                Item::Columns(s) => {
                    for ((x, _), c) in column_x(s).iter().zip(&s.columns) {
                        put(&layer, c, TEXT, x + 0.5, y);
                    }
                    rule(&layer, y - 1.3);
                    y -= LINE + 1.5;
                }
                Item::Row(s, cells) => {
                    let lines = cells.iter().map(Vec::len).max().unwrap_or(1);
                    for ((x, _), cell) in column_x(s).iter().zip(cells) {
                        for (i, text) in cell.iter().enumerate() {
                            put(&layer, text, TEXT, x + 0.5, y - i as f32 * LINE);
                        }
                    }
                    y -= lines as f32 * LINE + 1.0;
                }
                Item::Note(text) => {
                    put(&layer, text, TEXT, LEFT, y);
                    y -= LINE;
                }
            }
        }
        if n + 1 < count {
            put(&layer, CONTINUED, TEXT, PAGE_W / 2.0 - 14.0, BOTTOM - 6.0);
        }
    }
    let bytes = pdf
        .save_to_bytes()
        .map_err(|e| ReportError::Pdf(e.to_string()))?;
    let mut file = std::fs::File::create(path).map_err(write_error(path))?;
    file.write_all(&bytes).map_err(write_error(path))?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(rows: usize) -> FormDocument {
        FormDocument {
            title: "診療／薬剤情報一覧".into(),
            created_on: "2023年3月27日".into(),
            header: vec![
                ("氏名カナ".into(), "シンリョウ タロウ".into()),
                ("保険者番号".into(), "01130012".into()),
            ],
            notes: vec![
                "この診療／薬剤情報一覧は、2023年2月までの診療行為及び医薬品情報を表示しています。"
                    .into(),
            ],
            sections: vec![FormSection {
                heading: "診療／薬剤実績".into(),
                columns: vec!["年月日".into(), "医薬品名".into()],
                widths: vec![1, 4],
                rows: (0..rows)
                    .map(|i| vec![format!("22年7月{i}日"), format!("薬{i}")])
                    .collect(),
            }],
            footnotes: vec!["※おわり".into()],
        }
    }

    #[test]
    fn long_forms_break_into_pages_that_repeat_the_headings() {
        let doc = form(150);
        let body_top = TOP - 30.0;
        let pages = paginate(&doc, body_top);
        assert!(pages.len() >= 3, "{} pages", pages.len());
        for page in &pages[1..] {
            assert!(matches!(page.first(), Some(Item::Columns(_))));
        }
        let rows: usize = pages
            .iter()
            .flatten()
            .filter(|i| matches!(i, Item::Row(..)))
            .count();
        assert_eq!(rows, 150);
    }

    #[test]
    fn the_pdf_embeds_the_font_and_counts_its_pages() {
        let Some(font) = crate::find_cjk_font() else {
            panic!("install fonts-ipafont-gothic (apt-get install -y fonts-ipafont-gothic)");
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("form.pdf");
        let pages = write_form_pdf(&form(150), &font, &path).unwrap();
        assert!(pages >= 3);
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.windows(9).any(|w| w == b"/FontFile"));
    }
}
