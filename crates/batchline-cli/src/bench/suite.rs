//! [`Suite`]: the suites of `batchline bench`, their names and which builds can run them.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// The suites of `bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Suite {
    /// 10 000 batches of 10 ids through 3 no-op actions: the executor's cost per batch.
    Overhead,
    /// 64 batches through 3 actions that each sleep 10 ms: latency hiding.
    Latency,
    /// 64 batches through one action that computes for about 5 ms: CPU-bound speed-up.
    Cpu,
    /// 512 PNG images of 256×256: load, resize to 128×128, random flip, tensor (needs the
    /// `image` feature).
    Images,
    /// 512 JPEGs of 500×375: load, random_resized_crop 224, flip, normalised tensor.
    Jpeg,
    /// The training pipeline of `jpeg` on the 512 PNGs of `images`.
    PngTrain,
    /// The ImageNet val recipe on 512 JPEGs of 500×375.
    Recipe,
    /// The val recipe on 256 JPEGs of 1024×768: DCT-scaled decoding against decoding in full.
    JpegLarge,
    /// Batches of 32 JPEGs with one bad file dropped, against the 31 good ones.
    Dropping,
    /// Shuffled batches of 256 rows × 32 f32 + an i64 label from CSV, Parquet and .npy, next to
    /// the same rows in memory (not run by default; needs the `table` feature).
    Tables,
    /// A shuffled epoch over a 4 GB .npy and a 4 GB Parquet file, with peak memory (not run by
    /// default; writes 8 GB in a temporary folder; needs the `table` feature).
    LargerThanMemory,
    /// Early drop: k = 7, 100 ms locked actions: the time `drop` takes and the actions started
    /// after it began.
    Drop,
    /// The epoch boundary: 10 M shuffled items, k = 3: the consumer's wait for the first batch
    /// of epoch 2 next to a mid-epoch one.
    Epoch,
}

impl Suite {
    pub(crate) const ALL: [Suite; 11] = [
        Suite::Overhead,
        Suite::Latency,
        Suite::Cpu,
        Suite::Images,
        Suite::Jpeg,
        Suite::PngTrain,
        Suite::Recipe,
        Suite::JpegLarge,
        Suite::Dropping,
        Suite::Drop,
        Suite::Epoch,
    ];

    /// Whether this build can run the suite.
    pub(crate) fn available(self) -> bool {
        match self {
            Suite::Images
            | Suite::Jpeg
            | Suite::PngTrain
            | Suite::Recipe
            | Suite::JpegLarge
            | Suite::Dropping => cfg!(feature = "image"),
            Suite::Tables | Suite::LargerThanMemory => cfg!(feature = "table"),
            _ => true,
        }
    }

    /// The suite's name on the command line and in the table.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Suite::Overhead => "overhead",
            Suite::Latency => "latency",
            Suite::Cpu => "cpu",
            Suite::Images => "images",
            Suite::Jpeg => "jpeg",
            Suite::PngTrain => "png-train",
            Suite::Recipe => "recipe",
            Suite::JpegLarge => "jpeg-large",
            Suite::Dropping => "dropping",
            Suite::Tables => "tables",
            Suite::LargerThanMemory => "larger-than-memory",
            Suite::Drop => "drop",
            Suite::Epoch => "epoch",
        }
    }
}
