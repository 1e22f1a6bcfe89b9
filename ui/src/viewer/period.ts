// The viewing period: 今月 / 直近3ヵ月 / 直近6ヵ月, or a from–to range of months; information exists from 2021-09.

export type Period = "this_month" | "last_3" | "last_6" | "range";

/** The first month with information (診療 2021年9月). */
export const EARLIEST_MONTH = "2021-09";

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

function lastDay(year: number, month: number): number {
  return new Date(year, month, 0).getDate();
}

/** `from` and `to` as `YYYY-MM-DD` for the request, or a problem to show. */
export function periodOf(
  period: Period,
  today: Date,
  fromMonth: string,
  toMonth: string,
): { from: string; to: string } | { problem: string } {
  const y = today.getFullYear();
  const m = today.getMonth() + 1;
  const to = `${y}-${pad(m)}-${pad(lastDay(y, m))}`;
  const back = (months: number): string => {
    const d = new Date(y, m - 1 - (months - 1), 1);
    const s = `${d.getFullYear()}-${pad(d.getMonth() + 1)}`;
    return (s < EARLIEST_MONTH ? EARLIEST_MONTH : s) + "-01";
  };
  switch (period) {
    case "this_month":
      return { from: back(1), to };
    case "last_3":
      return { from: back(3), to };
    case "last_6":
      return { from: back(6), to };
    case "range": {
      if (!/^\d{4}-\d{2}$/.test(fromMonth) || !/^\d{4}-\d{2}$/.test(toMonth)) {
        return { problem: "診療年月 (自) と (至) を選んでください" };
      }
      if (fromMonth < EARLIEST_MONTH) return { problem: "2021年9月より前の情報はありません" };
      if (fromMonth > toMonth) return { problem: "診療年月 (自) が (至) より後になっています" };
      const [ty, tm] = toMonth.split("-").map(Number) as [number, number];
      return { from: `${fromMonth}-01`, to: `${toMonth}-${pad(lastDay(ty, tm))}` };
    }
  }
}
