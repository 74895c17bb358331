// The benchmark's outputs for docs/: a markdown table and an SVG of records/s against capacity
// beside the Little's-law bound, so a reader sees the curve instead of reading numbers.

export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export interface CurvePoint {
  capacity: number;
  measured: number;
  bound: number;
  bare: number;
}

/** A log-log plot: capacity on x, records/s on y; bound, bare undici and the processor as lines. */
export function littlesLawSvg(points: readonly CurvePoint[], latencyMs: number): string {
  const width = 640;
  const height = 400;
  const margin = { left: 70, right: 20, top: 40, bottom: 50 };
  const xs = points.map((point) => point.capacity);
  const ys = points.flatMap((point) => [point.measured, point.bound, point.bare]);
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  const [yMin, yMax] = [Math.min(...ys) / 1.5, Math.max(...ys) * 1.5];
  const x = (value: number): number =>
    margin.left +
    ((Math.log10(value) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) *
      (width - margin.left - margin.right);
  const y = (value: number): number =>
    height -
    margin.bottom -
    ((Math.log10(value) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) *
      (height - margin.top - margin.bottom);
  const series = [
    {
      name: `Little's-law bound (capacity / ${latencyMs} ms)`,
      color: "#999",
      dash: "6 4",
      value: (point: CurvePoint) => point.bound,
    },
    {
      name: "bare undici loop",
      color: "#2b7bb9",
      dash: "",
      value: (point: CurvePoint) => point.bare,
    },
    {
      name: "processor (Kinesis emulator to endpoint to Kinesis)",
      color: "#d95f02",
      dash: "",
      value: (point: CurvePoint) => point.measured,
    },
  ];
  const lines = series.map((line) => {
    const path = points
      .map(
        (point, index) =>
          `${index === 0 ? "M" : "L"}${x(point.capacity).toFixed(1)},${y(line.value(point)).toFixed(1)}`,
      )
      .join(" ");
    const dots = points
      .map(
        (point) =>
          `<circle cx="${x(point.capacity).toFixed(1)}" cy="${y(line.value(point)).toFixed(1)}" r="3" fill="${line.color}"/>`,
      )
      .join("");
    return `<path d="${path}" fill="none" stroke="${line.color}" stroke-width="2" ${line.dash === "" ? "" : `stroke-dasharray="${line.dash}"`}/>${dots}`;
  });
  const xTicks = xs.map(
    (value) =>
      `<text x="${x(value).toFixed(1)}" y="${height - margin.bottom + 20}" text-anchor="middle">${value}</text>`,
  );
  const yTickValues = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000].filter(
    (value) => value >= yMin && value <= yMax,
  );
  const yTicks = yTickValues.map(
    (value) =>
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}" stroke="#eee"/><text x="${margin.left - 8}" y="${(y(value) + 4).toFixed(1)}" text-anchor="end">${value}</text>`,
  );
  const legend = series.map(
    (line, index) =>
      `<line x1="${margin.left + 10}" x2="${margin.left + 40}" y1="${margin.top + 10 + index * 18}" y2="${margin.top + 10 + index * 18}" stroke="${line.color}" stroke-width="2" ${line.dash === "" ? "" : `stroke-dasharray="${line.dash}"`}/><text x="${margin.left + 48}" y="${margin.top + 14 + index * 18}">${line.name}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">Records/s against capacity, endpoint latency ${latencyMs} ms (log-log)</text>
${yTicks.join("\n")}
<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${height - margin.bottom}" stroke="black"/>
<line x1="${margin.left}" x2="${width - margin.right}" y1="${height - margin.bottom}" y2="${height - margin.bottom}" stroke="black"/>
${xTicks.join("\n")}
<text x="${width / 2}" y="${height - 10}" text-anchor="middle">capacity (requests in flight)</text>
<text x="16" y="${height / 2}" text-anchor="middle" transform="rotate(-90 16 ${height / 2})">records/s</text>
${lines.join("\n")}
${legend.join("\n")}
</svg>
`;
}
