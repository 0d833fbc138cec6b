"""LightGBM on the same split files as crates/ml/examples/fit_csv.rs, with the same settings: depth-wise trees
of the same depth, same learning rate, 256 bins, L2 1, min hessian 5, early stopping (40 rounds) on valid.
Prints one JSON line like fit_csv: test ROC-AUC, fit seconds, trees, contributions per second, sum gap.

usage: python benches/lightgbm_fit.py DIR [learning_rate] [max_depth]
"""
import json, sys, time
import numpy as np
import pandas as pd
import lightgbm as lgb
from sklearn.metrics import roc_auc_score

d = sys.argv[1]
lr = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
depth = int(sys.argv[3]) if len(sys.argv) > 3 else 5
tr, va, te = (pd.read_csv(f"{d}/{n}.csv") for n in ("train", "valid", "test"))
X, y = tr.drop(columns="label").values, tr["label"].values
V, vy = va.drop(columns="label").values, va["label"].values
T, ty = te.drop(columns="label").values, te["label"].values
params = dict(objective="binary", learning_rate=lr, max_depth=depth, num_leaves=2 ** depth, max_bin=256,
              lambda_l2=1.0, min_sum_hessian_in_leaf=5.0, min_data_in_leaf=1, num_threads=2, verbose=-1,
              seed=7)
t0 = time.perf_counter()
ds = lgb.Dataset(X, y, free_raw_data=False)
dv = lgb.Dataset(V, vy, reference=ds)
m = lgb.train(params, ds, num_boost_round=600, valid_sets=[dv], callbacks=[lgb.early_stopping(40, verbose=False)])
fit = time.perf_counter() - t0
raw = m.predict(T, raw_score=True, num_iteration=m.best_iteration)
t1 = time.perf_counter()
c = m.predict(T, pred_contrib=True, num_iteration=m.best_iteration)
explain = time.perf_counter() - t1
gap = float(np.max(np.abs(c.sum(axis=1) - raw)))
print(json.dumps(dict(engine="lightgbm", auc=round(roc_auc_score(ty, raw), 5), fit_seconds=round(fit, 3),
                      trees=m.best_iteration, bytes=len(m.model_to_string(num_iteration=m.best_iteration)),
                      explain_rows_per_second=round(len(T) / explain), max_sum_gap=gap,
                      learning_rate=lr, max_depth=depth)))
