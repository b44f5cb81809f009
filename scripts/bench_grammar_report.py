#!/usr/bin/env python3
"""Side-by-side table of trellis-grammar vs the peers (llguidance, XGrammar) from one run.

usage: bench_grammar_report.py --peers PEERS.json --trellis TRELLIS.json [--load a,b,c]
                               [--out report.md] [--docs docs/benchmarks.md]

PEERS.json is what ../shared/peers/bench.py writes, TRELLIS.json what `grammar-race --json`
writes. With --docs, the "## Grammar engine" section of that Markdown file is replaced (or
appended when absent); every other section is left as it is.
"""
import argparse
import datetime
import json
import platform
import re
import subprocess
from pathlib import Path

PEERS = ["llguidance", "xgrammar"]

# How the engine gets its figures, and what the table cannot show (kept with the table).
NOTES = [
    "How trellis-grammar computes masks (see `grammar/src/matcher.rs`):",
    "",
    "* One token trie per vocabulary (built once, counted in the setup time above), walked from a",
    "  DFA state and pruned at the first rejected byte; the depth-1 nodes are kept in a compact",
    "  list so rejected first bytes cost no cache miss.",
    "* Slices (bulk token classes, precomputed per vocabulary): plain JSON-string text, ASCII",
    "  letters+digits, lowercase+digits, each with its members' bitset, bitsets of the members",
    "  of at most r characters (r ≤ 48 precomputed) and a trie of all other tokens. When a state",
    "  provably treats every class string of up to r characters alike (checked level by level",
    "  on the DFA, UTF-8 aware), the bitset is OR-ed in and only the other trie is walked.",
    "* Per (rule, state) masks split into context-independent tokens and the few that depend",
    "  on the stack below; whole-configuration masks cached per compiled grammar; sparse masks",
    "  stored as id lists.",
    "* Compile builds every rule's DFA eagerly (regex-automata dense determinization): that is",
    "  why compile time is above llguidance's (which is lazy) on the larger schemas; a lazy",
    "  DFA is the planned fix.",
    "* Under load, single samples above ~1 ms are scheduler preemptions (they do not repeat",
    "  across runs); check `max` against a quiet-machine run before reading it as engine cost.",
    "",
]
SECTION = "## Grammar engine"


def num(v, d=1):
    return "-" if v is None else f"{v:.{d}f}"


def pct(v):
    return "-" if v is None else f"{100 * v:.0f}%"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def status(r):
    if not r:
        return "missing"
    if r.get("status"):
        return r["status"]
    if r.get("ok"):
        return "ok"
    viol = next((p.get("violation") for p in r.get("passes") or [] if p.get("violation")), None)
    return "FAIL: " + str(r.get("error") or viol or "?")[:80]


def stats(r):
    """Flattened figures of one result row (either engine), None where missing."""
    if not r or not r.get("passes"):
        return {"ok": bool(r and r.get("ok")), "status": status(r),
                "compile": (r or {}).get("compile_ms"), "rss": (r or {}).get("peak_rss_mb")}
    p0 = r["passes"][0]["mask_us"]
    p1 = r["passes"][-1]["mask_us"] if len(r["passes"]) > 1 else {}
    return {
        "ok": r.get("ok", False), "status": status(r), "steps": r.get("steps"),
        "compile": r.get("compile_ms"), "mean": p0.get("mean"), "p50": p0.get("p50"),
        "p99": p0.get("p99"), "max": p0.get("max"), "warm_mean": p1.get("mean"),
        "warm_p99": p1.get("p99"), "rss": r.get("peak_rss_mb"), "forced": r.get("forced_share"),
    }


def mark(ok):
    return "yes" if ok else "**no**"


def build(peers_doc, trellis_doc, load):
    pm = peers_doc.get("meta", {})
    tm = trellis_doc.get("meta", {})
    by = {}
    for r in peers_doc.get("results", []):
        by[(r.get("peer"), r.get("schema"))] = r
    for r in trellis_doc.get("results", []):
        by[("trellis", r.get("schema"))] = r
    schemas = sorted({s for (_, s) in by})
    try:
        rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rustc = "rustc ?"
    L = [SECTION, ""]
    L.append(f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{platform.machine()} {__import__('os').cpu_count()} cpus, vocabulary "
             f"{pm.get('model', 'gemma-3-270m-q4_k_m.gguf')} ({tm.get('vocab', pm.get('n_vocab', '?'))} tokens). "
             "Produced by `scripts/bench-grammar.sh` (peers' harness `../shared/peers/bench.py`, then "
             "`cargo run --release -p trellis-bench --bin grammar-race`), one run, back to back.")
    L.append("")
    versions = ", ".join(f"{k} {v}" for k, v in pm.get("versions", {}).items())
    L.append(f"- versions: trellis-grammar {tm.get('version', '?')} ({rustc}); {versions}")
    if load:
        L.append(f"- 1-min load average: peers start {load[0]}, trellis start {load[1]}, end {load[2]}"
                 + ("  **(shared machine under load: absolute figures are inflated; compare ratios, "
                    "and re-run on a quiet machine, 1-min load < 1.5)**" if max(map(float, load)) > 1.5 else ""))
    L.append(f"- trellis one-time vocabulary setup (GGUF read + decode + token trie/slices): "
             f"{num(tm.get('tokenizer_setup_ms'), 0)} ms (peers: see `setup ms` in their own report)")
    L.append("- mask µs: pass 1 = fresh matcher right after compile (cold caches); warm = pass 2 (second "
             "fresh matcher on the same compiled grammar); n = steps + 1. Peers run each schema in a fresh "
             "process; grammar-race runs all schemas in one process, so its peak RSS is cumulative.")
    L.append("- compile ms (trellis): JSON Schema → grammar + token-level setup, with the process-wide lexeme DFA "
             "cache emptied before each schema (`clear_dfa_cache`), so no schema reuses work done for another; "
             "in an app, later schemas reuse the cached string/number/format DFAs and compile faster.")
    L.append("- forced = share of document tokens whose bytes are a prefix of `Matcher::forced_bytes()`.")
    L.append("")
    L.append("| schema | engine | compile ms | mask mean | p50 | p99 | max | warm mean | warm p99 | forced | peak RSS MiB | status |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in schemas:
        for eng in ["trellis"] + PEERS:
            st = stats(by.get((eng, s)))
            L.append(f"| {s} | {eng} | {num(st.get('compile'), 2)} | {num(st.get('mean'))} | "
                     f"{num(st.get('p50'))} | {num(st.get('p99'))} | {num(st.get('max'))} | "
                     f"{num(st.get('warm_mean'))} | {num(st.get('warm_p99'))} | "
                     f"{pct(st.get('forced'))} | "
                     f"{num(st.get('rss'), 0)} | {st.get('status')} |")
    L.append("")
    L.append("Ratios trellis / peer (below 1 = trellis faster) and the issue-4 targets: compile ≤ llguidance; "
             "mask mean and p99 ≤ 0.5× llguidance and ≤ XGrammar; no mask above 1 ms.")
    L.append("")
    L.append("| schema | compile /llg | compile /xgr | mean /llg | mean /xgr | p99 /llg | p99 /xgr | max /llg | "
             "compile ok | mean ok | p99 ok | max ≤ 1 ms |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    met = {"compile": 0, "mean": 0, "p99": 0, "max": 0}
    n = 0
    for s in schemas:
        t = stats(by.get(("trellis", s)))
        lg = stats(by.get(("llguidance", s)))
        xg = stats(by.get(("xgrammar", s)))
        if t.get("mean") is None:
            continue
        n += 1
        rc_l, rc_x = ratio(t["compile"], lg.get("compile")), ratio(t["compile"], xg.get("compile"))
        rm_l, rm_x = ratio(t["mean"], lg.get("mean")), ratio(t["mean"], xg.get("mean"))
        rp_l, rp_x = ratio(t["p99"], lg.get("p99")), ratio(t["p99"], xg.get("p99"))
        rx_l = ratio(t["max"], lg.get("max"))
        ok_c = rc_l is not None and rc_l <= 1.0
        ok_m = rm_l is not None and rm_x is not None and rm_l <= 0.5 and rm_x <= 1.0
        ok_p = rp_l is not None and rp_x is not None and rp_l <= 0.5 and rp_x <= 1.0
        ok_x = t["max"] <= 1000.0
        for k, v in (("compile", ok_c), ("mean", ok_m), ("p99", ok_p), ("max", ok_x)):
            met[k] += v
        L.append(f"| {s} | {num(rc_l, 2)} | {num(rc_x, 3)} | {num(rm_l, 2)} | {num(rm_x, 2)} | {num(rp_l, 2)} | "
                 f"{num(rp_x, 2)} | {num(rx_l, 2)} | {mark(ok_c)} | {mark(ok_m)} | {mark(ok_p)} | {mark(ok_x)} |")
    L.append("")
    L.append(f"Targets met on {n} schemas: compile {met['compile']}/{n}, mask mean {met['mean']}/{n}, "
             f"mask p99 {met['p99']}/{n}, max ≤ 1 ms {met['max']}/{n}.")
    L.append("")
    L.extend(NOTES)
    return "\n".join(L)


def splice(doc_path, section):
    p = Path(doc_path)
    text = p.read_text(encoding="utf-8") if p.exists() else "# Benchmarks\n\n"
    pat = re.compile(r"^## Grammar engine\b.*?(?=^## |\Z)", re.S | re.M)
    if pat.search(text):
        text = pat.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    p.write_text(text, encoding="utf-8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", required=True)
    ap.add_argument("--trellis", required=True)
    ap.add_argument("--load", default="")
    ap.add_argument("--out")
    ap.add_argument("--docs")
    a = ap.parse_args()
    load = [x for x in a.load.split(",") if x] if a.load else []
    section = build(json.loads(Path(a.peers).read_text()), json.loads(Path(a.trellis).read_text()), load)
    if a.out:
        Path(a.out).write_text(section + "\n", encoding="utf-8")
    if a.docs:
        splice(a.docs, section)
    print(section)


if __name__ == "__main__":
    main()
