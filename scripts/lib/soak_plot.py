"""Draws a soak's figures (figures.tsv from scripts/soak.sh) as one SVG: the runner's and the
server's RSS, their open descriptors, and the clients' heartbeat timer lateness (p99 per 10 s).
Plain SVG, no plotting library: it has to run wherever the soak runs.
    python3 scripts/lib/soak_plot.py FIGURES.tsv OUT.svg [TITLE]"""
import sys

figures, out = sys.argv[1], sys.argv[2]
title = sys.argv[3] if len(sys.argv) > 3 else "soak"
rows = [line.split("\t") for line in open(figures).read().split("\n")[1:] if line.strip()]
rows = [[float(x) for x in r] for r in rows]
if not rows:
    sys.exit("soak_plot: no samples in " + figures)
t = [r[0] / 60 for r in rows]
panels = [
    ("RSS (MiB)", [("runner", [r[1] for r in rows], "#1f77b4"), ("server", [r[3] for r in rows], "#ff7f0e")]),
    ("open descriptors", [("runner", [r[2] for r in rows], "#1f77b4"), ("server", [r[4] for r in rows], "#ff7f0e")]),
    ("heartbeat timer lateness, p99 per 10 s (ms)", [("clients", [r[5] for r in rows], "#2ca02c")]),
]
width, panel_height, left, top = 900, 200, 70, 40
height = top + len(panels) * (panel_height + 50)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
       f'<rect width="100%" height="100%" fill="white"/><text x="{left}" y="22" font-size="15">{title}</text>']
tmax = max(t) or 1
for index, (label, series) in enumerate(panels):
    y0 = top + index * (panel_height + 50) + 20
    vmax = max(max(values) for _, values, _ in series) or 1
    vmax *= 1.1
    plot_width = width - left - 20
    svg.append(f'<text x="{left}" y="{y0 - 6}">{label}</text>')
    svg.append(f'<rect x="{left}" y="{y0}" width="{plot_width}" height="{panel_height}" fill="none" stroke="#999"/>')
    for k in range(5):
        v = vmax * k / 4
        y = y0 + panel_height - panel_height * k / 4
        svg.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{v:.0f}</text>')
        svg.append(f'<line x1="{left}" x2="{left + plot_width}" y1="{y}" y2="{y}" stroke="#eee"/>')
    for k in range(0, int(tmax) + 1, max(1, int(tmax) // 12 or 1)):
        x = left + plot_width * k / tmax
        svg.append(f'<text x="{x}" y="{y0 + panel_height + 14}" text-anchor="middle">{k}</text>')
    svg.append(f'<text x="{left + plot_width}" y="{y0 + panel_height + 28}" text-anchor="end">minutes</text>')
    for position, (name, values, colour) in enumerate(series):
        points = " ".join(f"{left + plot_width * x / tmax:.1f},{y0 + panel_height - panel_height * v / vmax:.1f}" for x, v in zip(t, values))
        svg.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.3" points="{points}"/>')
        svg.append(f'<text x="{left + plot_width - 10}" y="{y0 + 16 + 14 * position}" text-anchor="end" fill="{colour}">{name}</text>')
svg.append("</svg>")
open(out, "w").write("\n".join(svg) + "\n")
print(f"soak plot: {out}")
