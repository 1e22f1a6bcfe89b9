// The reception list's words and day arithmetic, shared by the list and the renewal slip.

import type { CertificateState, CheckInRecord, Visit } from "../lib/types";

/** The card's electronic certificate in words reception can say to the patient. */
export const certificateWords: Record<CertificateState, string> = {
  valid: "有効",
  expiring: "3か月以内に有効期限切れ: 更新をご案内ください",
  expired_in_grace: "証明書期限切れ（資格確認のみ）",
};

/** Whether the patient should get the renewal slip. */
export function needsRenewal(c: CheckInRecord): boolean {
  return c.certificate === "expiring" || c.certificate === "expired_in_grace";
}

/** `YYYY-MM-DD` moved by `days` calendar days (no clock involved). */
export function shiftDay(day: string, days: number): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return day;
  const t = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days));
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}

/** 受診区分 as reception tags a visit; the 閲覧 requests for it carry the matching 診療区分. */
export const visitLabel: Record<Visit, string> = {
  outpatient: "外来",
  home_visit: "訪問",
  online: "オンライン",
};
