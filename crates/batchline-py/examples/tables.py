"""A feature table from CSV, standardised with statistics of the training split, in batches of
float32 tensors (the data is made here): python3 crates/batchline-py/examples/tables.py"""
import os, tempfile
import numpy as np
import batchline as bf

path = os.path.join(tempfile.mkdtemp(), "features.csv")
rng = np.random.default_rng(0)
x = rng.normal(5.0, 3.0, size=(20_000, 8)).astype(np.float32)
y = (x[:, 0] + x[:, 1] > 10).astype(np.int64)  # the label: a linear rule
np.savetxt(path, np.column_stack([x, y]), delimiter=",", fmt="%.5g",
           header=",".join([f"f{i}" for i in range(8)] + ["label"]), comments="")

features = [f"f{i}" for i in range(8)]
ds = bf.TableBatch.from_csv(path, dtypes={**{f: "float32" for f in features}, "label": "int64"})
ds.split(0.8, shuffle=7)
stats = bf.TableStats.fit(ds.train, features)  # mean and std of the training rows only
prepare = ds.train.p.load().standardize(stats).to_tensor(features)

w = np.zeros(8, dtype=np.float32)  # logistic regression by SGD on the standardised features
for batch in prepare.gen_batch(256, shuffle=1, n_epochs=3, prefetch=2):
    # batch.tensor: float32 (256, 8), owned by Rust; torch.from_numpy(batch.tensor) shares it
    p = 1 / (1 + np.exp(-batch.tensor @ w))
    w -= 0.5 * batch.tensor.T @ (p - batch.label) / len(batch)

test = ds.test.p.load().standardize(stats).to_tensor(features)
right = sum(((b.tensor @ w > 0) == b.label).sum() for b in test.gen_batch(1000, n_epochs=1))
print(f"test accuracy {right / len(ds.test):.3f}")
