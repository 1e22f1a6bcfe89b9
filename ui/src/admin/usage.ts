// The usage figures as CSV (UTF-8, CRLF, a header row per table), for a spreadsheet or the facility's report.

import { outcomeLabel } from "../lib/format";
import type { UsageView } from "../lib/types";

export function usageCsv(u: UsageView): string {
  const lines: string[] = ["月,マイナ保険証,保険証番号,マイナ保険証利用率(%)"];
  for (const m of u.months) {
    lines.push(`${m.month},${m.card},${m.numbers},${m.rate_percent === undefined ? "" : m.rate_percent.toFixed(1)}`);
  }
  lines.push("", "時台,受付件数");
  u.by_hour.forEach((n, h) => lines.push(`${h},${n}`));
  lines.push("", "結果,件数");
  for (const f of u.failures) lines.push(`${outcomeLabel[f.outcome]},${f.count}`);
  lines.push("", "加算,適用開始,適用終了,利用率要件(%)");
  for (const t of u.thresholds) lines.push(`${t.tier},${t.from},${t.to},${t.percent}`);
  return lines.join("\r\n") + "\r\n";
}
