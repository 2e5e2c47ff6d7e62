//! The timeline picture: well-formed SVG with one bar per action execution and one hatched bar
//! per lock wait, lanes for the consumer and every worker, and a PNG of the same.

use crate::common;

use std::time::Duration;

use batchline::{Action, Context, EventKind, EventRecorder, RunSpec};
use batchline::{BarKind, Timeline};
use common::{dataset, with_watchdog, Probe};

fn nap(ms: u64) -> impl Fn(&mut Probe, &mut Context) + Send + Sync + 'static {
    move |_: &mut Probe, _: &mut Context| std::thread::sleep(Duration::from_millis(ms))
}

/// The events of a run with three actions, the middle one under a lock.
fn events(k: usize) -> Vec<batchline::Event> {
    with_watchdog(Duration::from_secs(30), move || {
        let recorder = EventRecorder::new();
        dataset(20)
            .p()
            .apply("load <raw>", nap(2))
            .push(Action::new("augment & crop", nap(3)).lock("gpu"))
            .apply("stack", nap(1))
            .run(&RunSpec::new(2).prefetch(k).observer(recorder.clone()))
            .unwrap();
        recorder.events()
    })
}

#[test]
fn the_svg_is_well_formed_with_a_bar_per_action_execution() {
    for k in [0, 3] {
        let events = events(k);
        let finished = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::ActionFinished { .. }))
            .count();
        assert_eq!(finished, 30);
        let timeline = Timeline::from_events(&events);
        assert_eq!(timeline.action_bars(), finished);
        let svg = timeline.to_svg();
        let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
        let rects: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect"))
            .collect();
        let class = |c: &str| {
            rects
                .iter()
                .filter(|n| n.attribute("class") == Some(c))
                .count()
        };
        assert_eq!(class("action"), finished, "k = {k}");
        // Every bar has a title naming its action and batch, in the escaped form.
        let titles: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("title"))
            .filter_map(|n| n.text().map(str::to_string))
            .collect();
        assert_eq!(
            titles
                .iter()
                .filter(|t| t.starts_with("augment & crop #"))
                .count(),
            10
        );
        assert_eq!(
            titles
                .iter()
                .filter(|t| t.starts_with("load <raw> #"))
                .count(),
            10
        );
        // Lock waits are hatched; there are as many as waits in the events.
        let waits = timeline
            .lanes
            .iter()
            .flat_map(|l| &l.bars)
            .filter(|b| matches!(b.kind, BarKind::LockWait(_)))
            .count();
        assert_eq!(class("lock-wait"), waits);
        for r in rects
            .iter()
            .filter(|n| n.attribute("class") == Some("lock-wait"))
        {
            assert_eq!(r.attribute("fill"), Some("url(#hatch)"));
        }
        if k == 3 {
            assert!(waits > 0, "with 4 workers some batch waits for the lock");
        }
        // One lane for the consumer, one per thread that ran actions.
        let labels: Vec<&str> = timeline.lanes.iter().map(|l| l.label.as_str()).collect();
        if k == 0 {
            assert_eq!(labels, ["consumer", "consumer thread"]);
        } else {
            assert_eq!(labels[0], "consumer");
            assert!(labels[1..].iter().all(|l| l.starts_with("worker ")));
            assert!(labels.len() >= 3 && labels.len() <= 5, "{labels:?}");
        }
        // The consumer's lane has a hold per batch received.
        let holds = timeline.lanes[0]
            .bars
            .iter()
            .filter(|b| b.kind == BarKind::ConsumerHold)
            .count();
        assert_eq!(holds, 10);
        // Bars of one lane do not overlap: a worker runs one step at a time.
        for lane in &timeline.lanes[1..] {
            for pair in lane.bars.windows(2) {
                assert!(pair[0].end <= pair[1].start, "{lane:?}");
            }
        }
    }
}

#[test]
fn the_png_has_the_width_asked_and_the_actions_colours() {
    let timeline = Timeline::from_events(&events(3));
    let img = timeline.to_image(900);
    assert_eq!(img.width(), 900);
    assert!(img.height() > 100);
    // The first action's colour (the palette's first entry) is drawn.
    let blue = image::Rgb([0x4e, 0x79, 0xa7]);
    assert!(img.pixels().filter(|p| **p == blue).count() > 500);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timeline.png");
    img.save(&path).unwrap();
    let back = image::open(&path).unwrap().to_rgb8();
    assert_eq!(back, img);
}

#[test]
fn an_empty_run_draws_an_empty_timeline() {
    let timeline = Timeline::from_events(&[]);
    assert_eq!(timeline.action_bars(), 0);
    roxmltree::Document::parse(&timeline.to_svg()).unwrap();
}

/// Defect 11: the PNG draws the names as the SVG writes them: `<`, `&`, `+` and lowercase
/// each as itself, not as `0` or as capitals. Two timelines whose only difference is one
/// character of an action's name differ in the pixels of that name (in the legend).
#[test]
fn the_png_draws_every_printable_character_of_a_name() {
    use batchline::Event;
    let png_of = |name: &str| {
        let action: std::sync::Arc<str> = name.into();
        let at = |ms, kind| Event::new(Duration::from_millis(ms), 0, 1, kind);
        let events = vec![
            at(
                0,
                EventKind::ActionStarted {
                    action: action.clone(),
                },
            ),
            at(10, EventKind::ActionFinished { action }),
            at(10, EventKind::BatchYielded),
            at(11, EventKind::BatchReleased),
        ];
        Timeline::from_events(&events).to_image(600)
    };
    let base = png_of("load 0raw0");
    for other in ["load <raw>", "load &raw+", "LOAD 0RAW0", "load 0raw~"] {
        assert_ne!(
            png_of(other),
            base,
            "{other:?} is drawn like \"load 0raw0\""
        );
    }
    assert_eq!(png_of("load 0raw0"), base, "drawing is deterministic");
}
