// The reservation CSV of the bulk check: a header naming the columns, then one person per line.
// Quoted fields ("…", with "" for a quote) are accepted; the byte-order mark of Excel exports is skipped.

import type { InsuranceNumbers } from "../lib/types";

export interface ReservationRow {
  /** 1-based line number in the file, for the results table and error messages. */
  line: number;
  numbers: InsuranceNumbers;
}

const COLUMNS: Record<string, keyof InsuranceNumbers> = {
  insurer_number: "insurer_number",
  保険者番号: "insurer_number",
  symbol: "symbol",
  記号: "symbol",
  number: "number",
  番号: "number",
  branch: "branch",
  枝番: "branch",
  birth_date: "birth_date",
  生年月日: "birth_date",
};

const MAX_ROWS = 2000;

function splitLine(line: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      fields.push(field.trim());
      field = "";
    } else field += ch;
  }
  fields.push(field.trim());
  return fields;
}

/** `19800417`, `1980/4/17` or `1980-04-17` → `1980-04-17`; anything else → undefined. */
export function normaliseDate(text: string): string | undefined {
  const m = /^(\d{4})[-/]?(\d{1,2})[-/]?(\d{1,2})$/.exec(text.trim());
  if (!m) return undefined;
  const [, y = "", mo = "", d = ""] = m;
  return `${y}-${mo.padStart(2, "0")}-${d.padStart(2, "0")}`;
}

export function parseReservations(text: string): { rows: ReservationRow[] } | { problem: string } {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const header = splitLine(lines[0] ?? "");
  const index: Partial<Record<keyof InsuranceNumbers, number>> = {};
  header.forEach((name, i) => {
    const key = COLUMNS[name];
    if (key) index[key] = i;
  });
  for (const needed of ["insurer_number", "number", "birth_date"] as const) {
    if (index[needed] === undefined) {
      return { problem: `1行目に列「${needed}」がありません (必要な列: insurer_number, number, birth_date)` };
    }
  }
  const rows: ReservationRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i] ?? "";
    if (!raw.trim()) continue;
    const f = splitLine(raw);
    const get = (k: keyof InsuranceNumbers): string => {
      const at = index[k];
      return at === undefined ? "" : (f[at] ?? "");
    };
    const birth = normaliseDate(get("birth_date"));
    if (!/^(\d{6}|\d{8})$/.test(get("insurer_number"))) {
      return { problem: `${i + 1}行目: 保険者番号は6桁または8桁の数字です` };
    }
    if (!birth) return { problem: `${i + 1}行目: 生年月日が読めません (例 1980-04-17)` };
    if (rows.length >= MAX_ROWS) return { problem: `一度に確認できるのは${MAX_ROWS}件までです` };
    rows.push({
      line: i + 1,
      numbers: {
        insurer_number: get("insurer_number"),
        symbol: get("symbol"),
        number: get("number"),
        branch: get("branch"),
        birth_date: birth,
      },
    });
  }
  if (!rows.length) return { problem: "CSVに確認する行がありません" };
  return { rows };
}
