//! Edge cases: inputs at the limits give errors that say what is wrong, never panics or hangs.

use crate::common;

use std::time::Duration;

use batchline::images::{Flip, ImagesBatch, ImagesBatchActions, ImagesSource, Layout};
use batchline::IdsBatch;
use batchline::Timeline;
use batchline::{
    Action, ActionError, Context, Dataset, DatasetIndex, EventRecorder, PipelineError, RunSpec,
    Shuffle,
};
use batchline::{BatchSpec, Shard};
use common::{dataset, with_watchdog, Probe};
use image::{DynamicImage, ImageBuffer, Luma, Rgb, RgbImage};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn shards_refuse_a_random_shuffle() {
    let index = DatasetIndex::from_count(10);
    let spec = BatchSpec::new(2)
        .shuffle(Shuffle::Random)
        .shard(Shard::new(0, 2));
    let err = index.gen_batch(&spec).unwrap_err().to_string();
    assert!(err.contains("shuffle(seed)"), "{err}");
    assert!(index.gen_batch(&spec.shuffle(7)).is_ok());
}

#[test]
fn an_absurd_number_of_epochs_is_an_uncounted_run() {
    assert_eq!(
        BatchSpec::new(3)
            .n_epochs(u64::MAX)
            .total_batches(10, false),
        None
    );
    let p = dataset(10).p();
    let mut iter = p.gen_batch(&RunSpec::new(3).n_epochs(u64::MAX)).unwrap();
    assert!(iter.nth(20).is_some());
}

#[test]
fn a_lock_taken_twice_by_one_batch_is_an_error_not_a_hang() {
    let p = dataset(4)
        .p()
        .acquire_lock("merge")
        .push(Action::new("merge", |_: &mut Probe, _: &mut Context| {}).lock("merge"));
    let err = with_watchdog(LIMIT, move || {
        p.run(&RunSpec::new(2).prefetch(1)).unwrap_err().error
    });
    assert!(matches!(err, PipelineError::Lock { .. }), "{err}");
    assert!(err.to_string().contains("already holds"), "{err}");
}

#[test]
fn a_checkpoint_after_a_failure_resumes_at_the_failed_batch() {
    let p = dataset(10)
        .p()
        .apply("fail at 2", |_: &mut Probe, ctx: &mut Context| {
            if ctx.batch() == 2 {
                return Err(ActionError::msg("transient"));
            }
            Ok(())
        });
    let mut iter = p.gen_batch(&RunSpec::new(2)).unwrap();
    assert!(iter.next().unwrap().is_ok());
    assert!(iter.next().unwrap().is_ok());
    assert!(iter.next().unwrap().is_err());
    assert_eq!(iter.checkpoint().unwrap().next_batch, 2);
}

#[test]
fn a_rebatch_checkpoint_refuses_gathered_items() {
    let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(12), ());
    let mut it = ds.p().gen_batch(&RunSpec::new(3)).unwrap().rebatch(4);
    it.next().unwrap().unwrap(); // 4 of the first 6 items: 2 are gathered
    let err = it.checkpoint().unwrap_err();
    assert!(matches!(err, PipelineError::Rebatch(_)), "{err}");
    it.next().unwrap().unwrap(); // items 4..8: 1 gathered
    it.next().unwrap().unwrap(); // items 8..12: none left
    assert_eq!(it.checkpoint().unwrap().next_batch, 4);
}

#[test]
fn narrow_timelines_and_odd_names_draw() {
    let recorder = EventRecorder::new();
    dataset(8)
        .p()
        .push(Action::new("bell \u{7} & <tag>", |_: &mut Probe, _: &mut Context| {}).lock("l"))
        .run(&RunSpec::new(1).prefetch(3).observer(recorder.clone()))
        .unwrap();
    let timeline = Timeline::from_events(&recorder.events());
    for width in [0, 1, 50, 200] {
        let img = timeline.to_image(width);
        assert_eq!(img.width(), width);
    }
    let svg = timeline.to_svg_width(10);
    roxmltree::Document::parse(&svg).expect("well-formed with a control character in a name");
    assert!(svg.contains("bell  &amp; &lt;tag&gt;"));
}

fn images(list: Vec<DynamicImage>) -> Dataset<ImagesBatch<usize>> {
    let n = list.len();
    Dataset::new(DatasetIndex::from_count(n), ImagesSource::from_images(list))
}

fn run_images(p: batchline::Pipeline<ImagesBatch<usize>>) -> Result<ImagesBatch<usize>, String> {
    with_watchdog(LIMIT, move || {
        let mut iter = p.gen_batch(&RunSpec::new(1)).unwrap();
        iter.next().unwrap().map_err(|e| e.to_string())
    })
}

#[test]
fn image_actions_at_the_limits() {
    // Empty images flip (to nothing).
    let empty = images(vec![DynamicImage::ImageRgb8(RgbImage::new(0, 4))]);
    let b = run_images(empty.p().load().flip(Flip::Horizontal)).unwrap();
    assert_eq!(b.images[0].width(), 0);

    let one = || {
        images(vec![DynamicImage::ImageRgb8(RgbImage::from_pixel(
            2,
            2,
            Rgb([9, 9, 9]),
        ))])
    };
    // A zero standard deviation names the channel.
    let err = run_images(
        one()
            .p()
            .load()
            .to_tensor(Layout::Nchw, vec![], vec![1.0, 0.0, 1.0]),
    )
    .unwrap_err();
    assert!(err.contains("channel 1"), "{err}");
    // Padding to an impossible size is an error, not an abort.
    let err = run_images(one().p().load().pad(u32::MAX, u32::MAX, 0, 0, 0)).unwrap_err();
    assert!(err.contains("too large"), "{err}");
    let err = run_images(
        one()
            .p()
            .load()
            .scale(1e9, batchline::images::Filter::Nearest),
    )
    .unwrap_err();
    assert!(err.contains("too large"), "{err}");

    // 16-bit images put in the public field are converted by the next action, and refused by
    // a stack that would misread them.
    let p = one().p().load().apply(
        "to 16 bits",
        |b: &mut ImagesBatch<usize>, _: &mut Context| {
            let img: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_pixel(2, 2, Luma([4096]));
            b.images[0] = DynamicImage::ImageLuma16(img);
        },
    );
    let err = run_images(p.clone().to_tensor(Layout::Nchw, vec![], vec![])).unwrap_err();
    assert!(err.contains("image 0") && err.contains("8 bits"), "{err}");
    let b = run_images(p.flip(Flip::Vertical).to_tensor_u8(Layout::Nhwc)).unwrap();
    assert_eq!(b.images[0].color(), image::ColorType::L8);
    assert_eq!(b.tensor.unwrap().shape(), [1, 2, 2, 1]);
}

#[test]
#[should_panic(expected = "low < high")]
fn a_uniform_argument_checks_its_range_at_once() {
    let _ = batchline::Arg::uniform(3.0_f64, 3.0);
}

#[test]
fn prefetch_overrides_auto_and_back() {
    let spec = RunSpec::new(2).prefetch_auto(1 << 20);
    assert_eq!(spec.prefetch_auto_budget(), Some(1 << 20));
    assert_eq!(spec.prefetch_depth(), 0);
    let spec = spec.prefetch(3);
    assert_eq!(
        (spec.prefetch_auto_budget(), spec.prefetch_depth()),
        (None, 3)
    );
}
