#!/usr/bin/env bash
# A soak: CLIENTS built-in clients (default 200) through a fault every few seconds, drawn with a
# seed from the catalog (blackhole, power loss, reset, close, latency, dropped pongs, refuse, server
# kill and restart), for DURATION; every 10 s the runner's and the server's RSS and open
# descriptors are sampled, and from the recording each 10-s window's heartbeat timer lateness
# (the built-in clients' own `late_ms`: how late each heartbeat timer fired). Prints the samples and whether, from
# minute 5 to the end, RSS grew less than 5% and descriptors not at all.
# A run keeps its events in memory until it is judged (the judge reads them all), so the soak is a
# chain of 5-minute scenarios in one `flatline run` (one runner process, one after the other): what
# the runner keeps from one to the next is what the growth check sees. The runner reports after
# each scenario (FLATLINE_MEMORY_STATS) its exact peak RSS during it, its RSS and descriptors once
# it is torn down, and glibc's heap in use and held; the check compares the first peak from minute 5
# with the last, and the descriptors between scenarios.
# Every chunk runs the same drawn schedule (the same load): a chunk's peak follows the events it
# holds (an hour of chunks drawn apart held 258k to 334k events each, and their peaks moved with
# them, +30% first to last at an even 0.43-0.58 MiB per 1,000 events), so only equal chunks show
# what the runner keeps. SOAK_VARY=1 draws each chunk's schedule apart, for variety.
#   scripts/soak.sh 1h [CLIENTS] [SEED]        # figures for docs/robustness.md
#   scripts/soak.sh 3m 50                      # a short slice
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:?usage: scripts/soak.sh DURATION [CLIENTS] [SEED]}
clients=${2:-200}
seed=${3:-1}
flatline="${FLATLINE:-$(scripts/release-flatline.sh)}"
out="${SOAK_OUT:-.build/soak}"   # SOAK_OUT, SOAK_CHUNK (seconds): for experiments
rm -rf "$out" && mkdir -p "$out"
seconds=$(python3 -c "import re,sys; t='$duration'; m={'h':3600,'m':60,'s':1}; print(sum(int(n)*m[u] for n,u in re.findall(r'(\d+)([hms])', t)) or sys.exit('bad duration: '+t))")

# The scenarios: one fault every 4-6 s, each healed before the next, to the end of the chunk; 5 minutes each.
chunk=${SOAK_CHUNK:-300}
chunk=$(( seconds < chunk ? seconds : chunk ))
chunks=$(( (seconds + chunk - 1) / chunk ))
files=()
for i in $(seq 1 "$chunks"); do
    files+=("$out/soak-$(printf %02d "$i").yaml")
    draw=$(( seed * 1000 + (${SOAK_VARY:-0} == 1 ? i : 1) ))
    python3 - "$chunk" "$clients" "$draw" "$i" >"${files[-1]}" <<'PY'
import random, sys
seconds, clients, seed, index = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
faults = [
    ("blackhole", "{type: blackhole, name: f}", True), ("power-loss", "{type: power-loss, name: f}", True),
    ("reset", "{type: reset, name: f}", True), ("close", "{type: close, name: f}", True),
    ("latency", "{type: latency, latency: 100ms, jitter: 20ms, name: f}", True),
    ("pongs", "{type: drop-frames, direction: downstream, pattern: heart_beat, name: f}", True),
    ("refuse", "{type: refuse, name: f}", True), ("kill", None, False),
]
print(f"""name: soak-{index:02d}
summary: {clients} clients, a fault every few seconds for {seconds} s (scripts/soak.sh, seed {seed}).
seed: {seed}
time-limit: {seconds + 180}s
client:
  count: {clients}
  ramp: 4s
  heartbeat: {{dialect: json, interval: 1s, timeout: 500ms, close-grace: 0ms}}
  reconnect: {{delay: 300ms, jitter: 0.5, connect-timeout: 3s}}
server: {{dialect: json, process: true}}
timeline:
  - after: client heartbeat-acked
    each-client: true
    within: 60s""")
t = 0.0
while t < seconds - 8:
    name, fault, healed = rng.choice(faults)
    hold = rng.choice([1.0, 1.5, 2.0])
    if fault:
        print(f"  - fault: {fault}\n  - at: +{int(hold*1000)}ms\n    heal: f")
    else:
        print(f"  - server: kill\n  - at: +{int(hold*1000)}ms\n    server: start")
    gap = rng.uniform(4, 6) - hold
    print(f"  - wait: {int(gap*1000)}ms")
    t += hold + gap
print("""  - after: client heartbeat-acked
    each-client: true
    within: 30s
assert:
  - max-concurrent client connections <= 1""")
PY
done

FLATLINE_MEMORY_STATS=1 "$flatline" run --quiet --jobs 1 --runs-dir "$out/runs" "${files[@]}" >"$out/run.txt" 2>&1 &
runner=$!
trap 'kill "$runner" 2>/dev/null || true' EXIT   # the runner ends with this script, however it ends
samples="$out/samples.tsv"
echo -e "t_s\trunner_rss_kib\trunner_fds\tserver_rss_kib\tserver_fds" >"$samples"
start=$(date +%s)
while kill -0 "$runner" 2>/dev/null; do
    now=$(( $(date +%s) - start ))
    # Every read of /proc may race with the process (an fd closing, the run ending): never fatal.
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$runner/status" 2>/dev/null || echo 0)
    fds=$(ls "/proc/$runner/fd" 2>/dev/null | wc -l || true)
    server=$(cat /proc/$runner/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$' | head -n 1 || true)
    srss=0; sfds=0
    if [ -n "$server" ]; then
        srss=$(awk '/^VmRSS/ {print $2}' "/proc/$server/status" 2>/dev/null || echo 0)
        sfds=$(ls "/proc/$server/fd" 2>/dev/null | wc -l || true)
    fi
    echo -e "$now\t${rss:-0}\t$fds\t${srss:-0}\t$sfds" >>"$samples"
    for _ in $(seq 1 10); do kill -0 "$runner" 2>/dev/null && sleep 1 || break; done
done
wait "$runner" && verdict=passed || verdict="failed ($(tail -n 1 "$out/run.txt"))"
status=0
python3 - "$samples" "$out/runs" "$verdict" "$chunk" "$start" "$out/run.txt" <<'PY' || status=$?
import glob, json, os, re, sys, collections
samples, runs, verdict, chunk, start, log = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
rows = [line.split("\t") for line in open(samples).read().split("\n")[1:] if line]
rows = [tuple(int(x) for x in r) for r in rows]
# Each chunk ends when its recording is written (the file's time, from the soak's start), and the
# next one starts then.
recordings = sorted(glob.glob(f"{runs}/soak-*/*/recording.jsonl"))
ends = [os.path.getmtime(r) - start for r in recordings]
# Heartbeat timer lateness per 10-s window: each built-in client's own measure (late_ms on heartbeat-sent; t in ms),
# each chunk's t shifted by the end of the chunk before it.
late = collections.defaultdict(list)
for recording, offset in zip(recordings, [0.0] + ends):
    for line in open(recording):
        if '"heartbeat-sent"' not in line:
            continue
        e = json.loads(line)
        if e.get("src") == "client" and "late_ms" in e:
            late[int((e["t"] / 1000 + offset) // 10)].append(float(e["late_ms"]))
print("t_s  runner_rss_MiB  runner_fds  server_rss_MiB  server_fds  timer_lateness_p99_ms  max_ms")
table = open(samples.replace("samples.tsv", "figures.tsv"), "w")
table.write("t_s\trunner_rss_mib\trunner_fds\tserver_rss_mib\tserver_fds\tlate_p99_ms\tlate_max_ms\n")
for t, rss, fds, srss, sfds in rows:
    window = sorted(late.get(t // 10, [0]))
    p99 = window[int(len(window) * 0.99) - 1 if len(window) > 1 else 0]
    print(f"{t:5d}  {rss/1024:14.1f}  {fds:10d}  {srss/1024:14.1f}  {sfds:10d}  {p99:21.1f}  {window[-1]:6.1f}")
    table.write(f"{t}\t{rss/1024:.1f}\t{fds}\t{srss/1024:.1f}\t{sfds}\t{p99:.1f}\t{window[-1]:.1f}\n")
table.close()
# What the runner reports after each scenario (FLATLINE_MEMORY_STATS): its exact peak RSS during it
# (the kernel's high-water mark, reset after each one — whatever the sampling's phase), its RSS
# after the trim, and the descriptors open once it is torn down (only the runner's own). Judged
# from minute 5: the chunks that ended then or later (all of them in a short slice).
text = open(log, errors="replace").read()
reports = [tuple(int(x) for x in r) for r in re.findall(r"flatline memory: peak_rss_kib=(\d+) rss_kib=(\d+) fds=(\d+)", text)]
finished = min(len(reports), len(ends))
indices = [i for i in range(finished) if ends[i] >= 300] or list(range(finished))
judged = [reports[i] for i in indices]
if not judged:
    sys.exit(f"no scenario finished with a recording and a memory report (in {runs}, {log}); scenarios {verdict}")
(rss0, _, fd0), (rss1, _, fd1) = judged[0], judged[-1]
growth = (rss1 - rss0) / rss0 * 100
held = [sum(1 for _ in open(r)) for r in recordings]
print(f"peak RSS per {chunk}-s scenario (MiB): {', '.join(f'{r[0] / 1024:.0f}' for r in judged)}; events per scenario: {', '.join(f'{n:,}' for n in held)}")
print(f"descriptors open after each scenario: {', '.join(str(r[2]) for r in reports)}")
print(f"RSS after each scenario's trim (MiB): {', '.join(f'{r[1] / 1024:.0f}' for r in reports)}")
# After each scenario (trimmed): what the runner still uses, and what glibc holds for it.
totals = re.findall(r"Total \(incl. mmap\):\s*system bytes\s*=\s*(\d+)\s*in use bytes\s*=\s*(\d+)", text)
if totals:
    print(f"heap after each scenario, in use / held by malloc (MiB): {', '.join(f'{int(u)/2**20:.1f}/{int(h)/2**20:.1f}' for h, u in totals)}")
print(f"scenarios {indices[0] + 1} to {indices[-1] + 1} (ended {ends[indices[0]]:.0f} s to {ends[indices[-1]]:.0f} s): runner peak RSS per {chunk}-s scenario {rss0/1024:.1f} → {rss1/1024:.1f} MiB ({growth:+.1f}%, limit +5%), "
      f"descriptors between scenarios {fd0} → {fd1} (limit: no growth); scenarios {verdict}")
sys.exit(0 if growth < 5 and fd1 <= fd0 and verdict == "passed" else 1)
PY
python3 scripts/lib/soak_plot.py "$out/figures.tsv" "$out/soak.svg" "soak: $clients clients, $duration, seed $seed" >&2 || true
exit $status
