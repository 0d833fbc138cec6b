"""The frontier between alert precision and warning time on one backtested book: the backtest's evaluated
snapshots re-thresholded at multiples of each cut-off's chosen model threshold (an oracle, since the multiple is
applied on the evaluated months themselves), with and without hysteresis. For each: the precision over alert
states and the median unbroken warning before churn (the simulator's ground truth gives the churn days).

usage: python benches/frontier.py BOOK_DIR BACKTEST_JSON BACKTEST_CSV
"""
import csv, json, statistics, sys
from collections import defaultdict
from datetime import date
book, report_path, rows_path = sys.argv[1:4]
report = json.load(open(report_path))
th = {c["cutoff"]: c["model_threshold"] for c in report["cutoffs"]}
truth = {r["account_id"]: r for r in csv.DictReader(open(f"{book}/truth/ground_truth.csv"))}
raw = defaultdict(list)
for r in csv.DictReader(open(rows_path)):
    raw[r["account_id"]].append((r["as_of"], float(r["probability"]), th[r["cutoff"]], float(r["label"])))
first_cut = min(th); min_lead = report["model"]["warning"]["min_lead_days"]
d = date.fromisoformat
for exit_ratio in (0.75, 1.0):
  for m in (1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.5):
    alerts = 0; pos = 0; days = []
    for acct, rows in raw.items():
        rows.sort(); st = False; snaps = []
        for as_of, p, t, y in rows:
            t = t * m
            st = p >= (t * exit_ratio if st else t)
            if st: alerts += 1; pos += y
            snaps.append((as_of, st))
        tr = truth.get(acct)
        if tr and tr["outcome"] == "churned":
            churn = d(tr["outcome_date"])
            if (churn - d(first_cut)).days < min_lead: continue
            ss = [s for s in snaps if d(s[0]) < churn]
            if not ss: continue
            start = None
            for s in reversed(ss):
                if s[1]: start = s[0]
                else: break
            days.append((churn - d(start)).days if start else 0)
    print(f"exit {exit_ratio} threshold x{m}: precision {pos/max(alerts,1):.3f} over {alerts} alert states; median warning {statistics.median(days) if days else 0} d over {len(days)} churners")
