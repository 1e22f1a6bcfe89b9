// The viewer's official forms as one document model: the screen renders it (FormView.svelte), 印刷 prints that
// rendering, and 「PDFで保存」 sends the same document to the app's PDF writer (crates/audit-report form.rs), so
// the three cannot disagree. Wording and layout follow seed 001 §3 (診療／薬剤情報一覧) and seed 003
// (特定健康診査受診結果). Dates come formatted from the daemon (crates/wareki); this file formats none.

import { longDate, sexLabel, ymd } from "../lib/format";
import type { ConsentedPatient, MedicalInfoView, MedicalView } from "../lib/types";

export interface FormSection {
  heading: string;
  columns: string[];
  /** Relative column widths. */
  widths: number[];
  rows: string[][];
  /** The rows' data-testid on screen (not part of the PDF). */
  rowTestid?: string;
}

export interface FormDocument {
  title: string;
  created_on: string;
  /** Label and value, shown two to a line and repeated on every printed page. */
  header: [string, string][];
  notes: string[];
  sections: FormSection[];
  footnotes: string[];
}

/** 印刷 of a form: the print styles (FormView.svelte) then hide everything but the form. */
export function printForm(): void {
  document.body.classList.add("printing-form");
  try {
    window.print();
  } finally {
    document.body.classList.remove("printing-form");
  }
}

export const CHECKUP_NOTE =
  "労働安全衛生法に基づく健康診断（事業者健診）等を受診した際、特定健康診査の基本項目を実施し、かつ事業者が保険者にその結果を提供している場合、特定健康診査として記録が表示されます。";
export const CHECKUP_STAR_NOTE =
  "※がついている結果は、健診機関等により複数の検査結果が登録されているため、実際に受け取られている特定健康診査受診結果通知表の結果と異なる可能性があります。";

/** The 資格情報 header of both forms, in the forms' order (two to a line). */
export function patientHeader(p: ConsentedPatient): [string, string][] {
  return [
    ["氏名カナ", p.kana],
    ["保険者番号", p.insurer_number],
    ["氏名", p.name],
    ["被保険者証等記号", p.symbol],
    ["生年月日", p.birth_date_long || ymd(p.birth_date)],
    ["被保険者証等番号", p.number],
    ["性別・年齢", `${sexLabel[p.sex]} ${p.age ?? ""}歳`],
    ["枝番", p.branch],
  ];
}

/** A value as the form prints it: the mark before the value, 「—」 when there is none. */
function shownValue(v: { value: string; flag?: "high" | "low" } | undefined): string {
  if (!v || v.value === "") return "—";
  const mark = v.flag === "high" ? "▲ " : v.flag === "low" ? "▽ " : "";
  return mark + v.value;
}

/** 特定健康診査受診結果: several 実施日 side by side, the lines of the official form in its groups. */
export function checkupDocument(view: MedicalInfoView, p: ConsentedPatient): FormDocument {
  const checkups = [...view.checkups].sort((a, b) => a.date.localeCompare(b.date));
  const dates = checkups.map((c) => ymd(c.date));
  const valueAt = (row: number, c: (typeof checkups)[number]) => c.values.find((v) => v.row === row);
  const lines = view.checkup_form ?? [];
  const findings: string[][] = [];
  const results: string[][] = [];
  let group = "";
  lines.forEach((line, row) => {
    const values = checkups.map((c) => {
      const v = valueAt(row, c);
      return line.group === "所見" ? v?.value || "—" : shownValue(v);
    });
    if (line.group === "所見") {
      findings.push([line.label, ...values]);
      return;
    }
    results.push([line.group === group ? "" : line.group, line.label, line.range, ...values]);
    group = line.group;
  });
  // Items the central service sent that the official form does not print still reach the reader.
  const extra = new Map<string, string[]>();
  checkups.forEach((c, i) => {
    for (const v of c.values.filter((v) => v.row === undefined)) {
      const cells = extra.get(v.item) ?? checkups.map(() => "—");
      cells[i] = shownValue(v) + (v.unit ? ` ${v.unit}` : "");
      extra.set(v.item, cells);
    }
  });
  for (const [item, cells] of extra) {
    results.push([group === "その他" ? "" : "その他", item, "", ...cells]);
    group = "その他";
  }
  const facilities = checkups.map((c, i) => `${dates[i]} ${c.facility || "（記載なし）"}`);
  return {
    title: "特定健康診査受診結果",
    created_on: view.created_on,
    header: patientHeader(p),
    notes: [CHECKUP_NOTE],
    sections: [
      {
        heading: "特定健診情報",
        columns: ["実施日", ...dates],
        widths: [2, ...dates.map(() => 3)],
        rows: findings,
      },
      {
        heading: "検査結果",
        columns: ["区分", "項目", "受診勧奨判定値", ...dates],
        widths: [2, 4, 4, ...dates.map(() => 3)],
        rows: results,
      },
    ],
    footnotes: [
      "▲ 受診勧奨判定値以上　▽ 受診勧奨判定値以下（eGFR は未満）",
      CHECKUP_STAR_NOTE,
      `健診機関: ${facilities.join("　") || "—"}`,
    ],
  };
}

/** 診療／薬剤情報一覧: 受診歴, then 手術・診療・薬剤 (処方・調剤) and 透析 in date order. */
export function medicationDocument(view: MedicalInfoView, p: ConsentedPatient): FormDocument {
  const visits = new Map<string, string[]>();
  for (const l of view.lines) {
    const months = visits.get(l.facility) ?? [];
    if (!months.includes(l.month_label)) months.push(l.month_label);
    visits.set(l.facility, months);
  }
  let lastMonth = "";
  const rows = view.lines.map((l) => {
    const month = l.month_label === lastMonth ? "" : l.month_label;
    lastMonth = l.month_label;
    const name = l.ingredient ? `${l.name} (${l.ingredient})` : l.name;
    // The line under a drug, as seed 001/003 print it: 【用法】 / ＜1回用量＞ / 【用法等の特別指示】.
    const usage = [
      l.detail ? `【用法】${l.detail}` : "",
      l.dose ? `＜${l.dose}＞` : "",
      l.special_instruction ? `【用法等の特別指示】${l.special_instruction}` : "",
    ].filter(Boolean);
    const text = [name, usage.join(" ／ ")].filter(Boolean).join(" ");
    const inOut = [l.in_out, l.usage_class].filter(Boolean).join(" ");
    return [month, l.day_label, l.kind, inOut, l.facility, text, l.quantity ?? ""];
  });
  return {
    title: view.info === "surgery" ? "手術情報一覧" : "診療／薬剤情報一覧",
    created_on: view.created_on,
    header: patientHeader(p),
    notes: [
      `この診療／薬剤情報一覧は、${view.through_month}までの診療行為及び医薬品情報を表示しています。但し、一部は表示されない場合があります。`,
    ],
    sections: [
      {
        heading: "受診歴",
        columns: ["医療機関名", "受診歴"],
        widths: [3, 5],
        rows: [...visits].map(([facility, months]) => [facility, months.join("、")]),
      },
      {
        heading: "診療／薬剤実績",
        columns: ["年月", "日", "診療/薬剤", "入外等", "医療機関名", "診療行為名/医薬品名 (成分名)【用法】＜1回用量＞【用法等の特別指示】", "数量/日数/回数"],
        widths: [3, 2, 2, 2, 5, 10, 4],
        rows,
        rowTestid: "medical-line",
      },
    ],
    footnotes: ["診療月の翌月中途から閲覧可能になります。"],
  };
}

export const DISASTER_NOTE = "災害時の特例的な運用による閲覧です。閲覧のログが残ります。";

/**
 * 災害時医療情報閲覧 (seeds 003/004): the 薬剤情報 and the 特定健診情報 (実施日) the central service returned, as one
 * document the screen shows and 「PDFで保存」 writes. Dates come as the central service sent them (`YYYYMMDD`).
 */
export function disasterDocument(view: MedicalView): FormDocument {
  const p = view.patient;
  return {
    title: "災害時 薬剤情報・特定健診情報",
    created_on: longDate(view.accessed_at),
    header: [
      ["氏名カナ", p.kana],
      ["保険者番号", p.insurer_number],
      ["氏名", p.name],
      ["被保険者証等記号", p.symbol],
      ["生年月日", ymd(p.birth_date)],
      ["被保険者証等番号", p.number],
      ["性別", sexLabel[p.sex]],
      ["枝番", p.branch],
    ],
    notes: [view.notice, `閲覧者: ${view.viewer}`],
    sections: [
      {
        heading: "薬剤情報",
        columns: ["調剤日", "医療機関・薬局名", "医薬品名", "用法・数量"],
        widths: [2, 5, 6, 5],
        rows: view.summary.medications.map((m) => [ymd(m.date), m.facility, m.name, m.detail ?? ""]),
        rowTestid: "dis-medication",
      },
      {
        heading: "特定健診情報",
        columns: ["実施日"],
        widths: [1],
        rows: view.summary.checkup_dates.map((d) => [ymd(d)]),
        rowTestid: "dis-checkup",
      },
    ],
    footnotes: [DISASTER_NOTE],
  };
}
