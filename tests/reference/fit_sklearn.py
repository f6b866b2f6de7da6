"""Reference for `fit_coefficients_match_scikit_learn_on_the_sample_villages`
(crates/cli/tests/fit.rs): scikit-learn's LogisticRegression on the features
`hhrisk fit --free-signs --normalise total` fits, built independently from
`hhrisk score --item-columns` counts, the model's category weights and the
outcomes.

    hhrisk fit --free-signs --normalise total --model indicators/xiaochang.toml \
        --samples sample_villages --out OUT/free.toml
    python3 tests/reference/fit_sklearn.py HHRISK_BINARY OUT

Run with scikit-learn 1.9.1, numpy 2.4.6, pandas: the largest difference
over the 55 coefficients was 6.9e-07 on the first sample villages,
9.1e-08 on those of simulator v2 (C = 0.03), 6.6e-07 with model
version 2 on them (C = 0.3) and 5.7e-07 once 城关社区 was urban (C = 0.3);
shuffling the rows moved sklearn's own
coefficients by 1.9e-11.
"""
import json, subprocess, sys, tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

BIN, OUT = Path(sys.argv[1]), Path(sys.argv[2])
MODEL = Path("indicators/xiaochang.toml")
model = tomllib.loads(MODEL.read_text())
catw = {c["id"]: float(c.get("weight", 1)) for c in model["categories"]}
items = model["items"]
ids = [it["id"] for it in items]
w = np.array([catw[it["category"]] for it in items])
off = np.array([bool(it.get("off", False)) for it in items])

frames = []
for v in sorted(p for p in Path("sample_villages").iterdir() if p.is_dir()):
    out = OUT / f"X_{v.name}.csv"
    subprocess.run([str(BIN), "score", "--model", str(MODEL), "--roster", str(v),
                    "--out", str(out), "--item-columns"], check=True, capture_output=True)
    s = pd.read_csv(out, dtype={"household_id": str})
    o = pd.read_csv(v / "outcomes.csv", dtype={"household_id": str})
    m = s.merge(o[["household_id", "verified_need"]], on="household_id", how="inner", validate="1:1")
    assert len(m) == len(s) == len(o)
    frames.append(m)
df = pd.concat(frames, ignore_index=True)
counts = df[[f"item_{i}" for i in ids]].to_numpy(float)
counts[:, off] = 0.0
X = counts * w  # normalise = total: not divided
y = df["verified_need"].to_numpy(int)

fit = json.loads((OUT / "free.fit.json").read_text())
C = fit["penalty"]["c"]
lr = LogisticRegression(C=C, class_weight="balanced", tol=1e-12, max_iter=100000).fit(X, y)
sk = dict(zip(ids, lr.coef_[0]))
js = {it["item"]: it["coefficient"] for it in fit["items"]}
print(f"C={C} max |sklearn - hhrisk| = {max(abs(sk[i] - js[i]) for i in ids):.3e}")
for i in ["D05", "D07", "I01", "M03", "H02"]:
    print(f"{i}: sklearn={sk[i]:.6f} hhrisk={js[i]:.6f}")
