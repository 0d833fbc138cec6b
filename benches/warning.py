"""Warning time across simulated books: for each book, the backtest's pooled figures (model and rules score) and
the warning as a share of the possible (trouble start to churn, from the simulator's ground truth), per story.

usage: python benches/warning.py BOOK_DIR BACKTEST_JSON BACKTEST_CSV [EXIT_RATIO=0.75]
Prints one JSON line: the book's figures and, per archetype, the median share of the possible warning that the
model and the rules score gave (an unbroken run of alert states up to the churn, with the backtest's
hysteresis: an account in alert stays in it while its score is at least EXIT_RATIO of the threshold).
"""
import csv
import json
import statistics
import sys
from collections import defaultdict
from datetime import date

book, report_path, rows_path = sys.argv[1:4]
exit_ratio = float(sys.argv[4]) if len(sys.argv) > 4 else 0.75
report = json.load(open(report_path))
thresholds = {c["cutoff"]: (c["model_threshold"], c["rules_threshold"]) for c in report["cutoffs"]}
truth = {r["account_id"]: r for r in csv.DictReader(open(f"{book}/truth/ground_truth.csv"))}
raw = defaultdict(list)
for r in csv.DictReader(open(rows_path)):
    mt, rt = thresholds[r["cutoff"]]
    raw[r["account_id"]].append((r["as_of"], float(r["probability"]), mt, float(r["rules_risk"]), rt))
snaps = defaultdict(list)
for acct, rows in raw.items():
    state = [False, False]
    for as_of, p, mt, q, rt in sorted(rows):
        for k, (v, t) in enumerate(((p, mt), (q, rt))):
            state[k] = v >= (t * exit_ratio if state[k] else t)
        snaps[acct].append((as_of, state[0], state[1]))
first_cut = min(thresholds)
min_lead = report["model"]["warning"]["min_lead_days"]
d = date.fromisoformat
share = defaultdict(lambda: ([], []))
for acct, t in truth.items():
    if t["outcome"] != "churned" or acct not in snaps or not t["trouble_start"]:
        continue
    churn = d(t["outcome_date"])
    if (churn - d(first_cut)).days < min_lead:
        continue
    rows = sorted(s for s in snaps[acct] if d(s[0]) < churn)
    if not rows:
        continue
    possible = max((churn - max(d(t["trouble_start"]), d(first_cut))).days, 1)
    for k in (1, 2):
        start = None
        for s in reversed(rows):
            if s[k]:
                start = s[0]
            else:
                break
        days = (churn - d(start)).days if start else 0
        share[t["archetype"]][k - 1].append(min(days / possible, 1.0))
out = {
    "model": {k: report["model"][k] for k in ("auc", "ece", "precision_at_threshold")} | {"median_warning": report["model"]["warning"]["median_days"], "churners": report["model"]["warning"]["churners"]},
    "rules": {k: report["rules"][k] for k in ("auc", "ece", "precision_at_threshold")} | {"median_warning": report["rules"]["warning"]["median_days"]},
    "share_of_possible": {a: {"churners": len(m), "model": round(statistics.median(m), 3), "rules": round(statistics.median(r), 3)} for a, (m, r) in sorted(share.items())},
}
print(json.dumps(out))
