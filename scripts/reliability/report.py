"""Markdown and JSON output of the fault campaign and the soak: the machine, the tables, and the update of
docs/reliability.md between its markers (so that a re-run replaces the previous figures)."""
import json
import os
import platform
import subprocess
import time


def machine(started):
    """The machine and the time of a run."""
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        with open("/etc/os-release") as f:
            fields = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        info["os"] = fields.get("PRETTY_NAME", "").strip('"')
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        root = os.path.join(os.path.dirname(__file__), "..", "..")
        info["commit"] = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                                        text=True).stdout.strip()
    except OSError:
        pass
    return info


def describe_machine(meta):
    load = " ".join(str(x) for x in meta.get("load_average_at_start", []))
    return (f"{meta['date']}, {meta.get('os', 'Linux')} (kernel {meta['kernel']}), {meta['cpus']} CPUs "
            f"({meta.get('cpu', 'unknown')}), shared; load average at start {load}; commit {meta.get('commit', '?')}")


def outcomes_text(outcomes, limit=4):
    parts = [f"{count}× {code}" for code, count in list(outcomes.items())[:limit]]
    if len(outcomes) > limit:
        parts.append(f"{sum(list(outcomes.values())[limit:])}× other")
    return ", ".join(parts)


def campaign_table(rows, meta):
    lines = [
        f"Measured {describe_machine(meta)}. {meta['notifications_per_fault']} notifications per fault "
        f"(each with its own apns-id), the gateway with {meta['gateway_connections']} APNs connections.",
        "",
        "| fault | sent | results | duplicates unmarked / marked | lost (no result) | recover s | pushes/s | results by outcome | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        recover = "–" if row["recover_seconds"] is None else f"{row['recover_seconds']:.3f}"
        rate = "–" if row["pushes_per_second"] is None else str(row["pushes_per_second"])
        lost = str(row["lost"])
        if row.get("key") == "gateway-kill":
            lost += " (no reply: the gateway was killed)"
        lines.append(
            f"| {row['fault']} | {row['sent']} | {row['results']} | {row['duplicates_unmarked']} / "
            f"{row['duplicates_marked']} | {lost} | {recover} | {rate} | {outcomes_text(row['outcomes'])} | "
            f"{row['verdict']} |")
    lines.append("")
    lines.append("Per fault:")
    lines.append("")
    for row in rows:
        extra = dict(row.get("extra", {}))
        facts = [row["description"]]
        if row["recover_measure"]:
            facts.append(f"recovery measured as {row['recover_measure']}")
        if row.get("refused_by_goaway"):
            facts.append(f"{row['refused_by_goaway']} streams above a GOAWAY's last-stream-id (never processed, resent unmarked)")
        if row.get("accepted_twice_unmarked"):
            facts.append(f"{row['accepted_twice_unmarked']} answered 200 twice without the mark")
        for key, value in extra.items():
            facts.append(f"{key.replace('_', ' ')}: {value}")
        for code, detail in list(row.get("details", {}).items())[:3]:
            facts.append(f"`{code}`: “{detail}”")
        for note in row.get("notes", []):
            facts.append(note)
        lines.append(f"- **{row['fault']}**: " + "; ".join(facts) + ".")
    return "\n".join(lines) + "\n"


def update_doc(path, marker, text):
    """Replaces what stands between `<!-- marker:begin -->` and `<!-- marker:end -->` in `path`; appends the
    section with its markers when they are missing."""
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    content = open(path).read() if os.path.exists(path) else ""
    block = f"{begin}\n{text.rstrip()}\n{end}"
    if begin in content and end in content:
        head, rest = content.split(begin, 1)
        _, tail = rest.split(end, 1)
        content = head + block + tail
    else:
        content = content.rstrip() + ("\n\n" if content else "") + block + "\n"
    with open(path, "w") as f:
        f.write(content)


def update_json(path, key, value):
    data = {}
    if os.path.exists(path):
        try:
            with open(path) as f:
                data = json.load(f)
        except ValueError:
            data = {}
    data[key] = value
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
