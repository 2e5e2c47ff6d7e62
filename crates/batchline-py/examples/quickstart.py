"""The Python demo: BatchFlow's API on batchline's engine (run from the checkout after
`python3 -m pip install ./crates/batchline-py`)."""

import numpy as np

import batchline as bf
from batchline import B, V, Batch, Dataset, action


class MyBatch(Batch):
    components = ("x",)

    @action
    def scale(self, by):
        self.x = self.x * by
        return self

    @action(use_lock=True)  # one batch at a time
    def log(self):
        print(f"batch {self.iteration}: ids {self.indices.tolist()}")
        return self


dataset = Dataset(20, MyBatch, preloaded=np.arange(20, dtype=np.float32))
dataset.split(0.8, shuffle=42)
pipeline = (dataset.train.p
            .init_variable("total", 0.0)
            .scale(by=0.5)
            .log()
            .update(V("total"), V("total") + bf.F(np.sum)(B.x)))  # atomic, in batch order
for batch in pipeline.gen_batch(4, shuffle=7, n_epochs=2, prefetch=3):
    assert len(batch) <= 4  # in order, 3 batches prepared in the background
print("total:", pipeline.v("total"))  # 2 epochs x sum(0..19 of train) / 2, whatever prefetch
