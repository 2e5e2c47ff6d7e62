//! Profiles of runs with a known bottleneck, at k = 0 and k = 3; the progress bar's spec.

use crate::common;

use std::thread::sleep;
use std::time::Duration;

use batchline::{Context, EventRecorder, Profile, RunSpec};
use common::{dataset, with_watchdog, Probe};

const LIMIT: Duration = Duration::from_secs(60);

fn nap(ms: u64) -> impl Fn(&mut Probe, &mut Context) + Send + Sync + 'static {
    move |_: &mut Probe, _: &mut Context| sleep(Duration::from_millis(ms))
}

fn profile_of(p: batchline::Pipeline<Probe>, spec: RunSpec, consumer_ms: u64) -> Profile {
    with_watchdog(LIMIT, move || {
        let mut iter = p.gen_batch(&spec.profile(true)).unwrap();
        for b in iter.by_ref() {
            b.unwrap();
            sleep(Duration::from_millis(consumer_ms));
        }
        iter.report()
            .profile
            .expect("profile(true) gives a profile")
    })
}

#[test]
fn a_slow_action_is_the_bottleneck_at_any_k() {
    for k in [0, 3] {
        let p = dataset(24).p().apply("quick", nap(0)).apply("slow", nap(8));
        let profile = profile_of(p, RunSpec::new(2).prefetch(k), 0);
        assert_eq!(profile.batches, 12);
        let slow = profile.action("slow").unwrap();
        let quick = profile.action("quick").unwrap();
        assert_eq!((slow.count, quick.count), (12, 12));
        assert!(slow.p50 >= Duration::from_millis(8) && slow.max >= slow.p95);
        assert!(slow.p95 >= slow.p50 && slow.total >= Duration::from_millis(96));
        assert_eq!(profile.bottleneck().unwrap().name, "slow", "k = {k}");
        assert!(slow.bottleneck_share > 0.3, "k = {k}: {profile}");
        assert!(
            profile.consumer_wait > profile.consumer_work,
            "k = {k}: {profile}"
        );
    }
}

#[test]
fn a_slow_consumer_shows_as_work_not_wait_under_prefetch() {
    let p = dataset(24).p().apply("quick", nap(1));
    let profile = profile_of(p, RunSpec::new(2).prefetch(3), 10);
    assert!(
        profile.consumer_work > profile.consumer_wait * 3,
        "consumer-bound: {profile}"
    );
    assert!(
        profile.action("quick").unwrap().bottleneck_share < 0.2,
        "{profile}"
    );
}

#[test]
fn a_hot_lock_shows_its_waits() {
    let p = dataset(24)
        .p()
        .push(batchline::Action::new("locked", nap(5)).lock("hot"));
    let profile = profile_of(p, RunSpec::new(2).prefetch(3), 0);
    let lock = profile.lock("hot").unwrap();
    assert_eq!(lock.acquisitions, 12);
    assert!(lock.waits >= 3, "{profile}");
    assert!(lock.total_wait >= Duration::from_millis(10), "{profile}");
    // While the consumer waits, the batch it waits for is in the locked action or waits for
    // the lock: between them they hold the run up most of the time.
    let locked = profile.action("locked").unwrap();
    assert!(
        locked.bottleneck_share + lock.bottleneck_share > 0.5,
        "{profile}"
    );
    // The table names the lock; the profile survives JSON.
    assert!(profile.to_string().contains("hot"));
    let json = serde_json::to_string(&profile).unwrap();
    assert_eq!(serde_json::from_str::<Profile>(&json).unwrap(), profile);
}

#[test]
fn the_profile_tees_with_the_users_observer_and_matches_its_events() {
    let recorder = EventRecorder::new();
    let p = dataset(10).p().apply("a", nap(1));
    let spec = RunSpec::new(2).prefetch(2).observer(recorder.clone());
    let profile = profile_of(p, spec, 0);
    assert_eq!(profile, Profile::from_events(&recorder.events()));
    assert_eq!(profile.action("a").unwrap().count, 5);
}

/// The progress bar draws every batch, in order, with the total and the items' rate, and
/// leaves the run unchanged; without `progress(true)` it draws nothing. The bar draws into a
/// capture (standard error is not a terminal under the test harness).
#[test]
#[cfg(feature = "progress")]
fn progress_draws_each_batch_and_leaves_the_run_unchanged() {
    let p = dataset(10).p().apply("a", nap(0));
    for k in [0, 3] {
        let p = p.clone();
        let (plain, shown, silent, drawn) = with_watchdog(LIMIT, move || {
            let plain = p.run(&RunSpec::new(3).prefetch(k)).unwrap();
            let capture = batchline::ProgressCapture::start();
            let silent = {
                p.run(&RunSpec::new(3).prefetch(k)).unwrap();
                capture.text()
            };
            let shown = p.run(&RunSpec::new(3).prefetch(k).progress(true)).unwrap();
            (plain, shown, silent, capture.text())
        });
        assert_eq!((plain.batches, plain.items), (shown.batches, shown.items));
        assert_eq!((shown.batches, shown.items), (4, 10));
        assert!(shown.profile.is_none());
        assert_eq!(silent, "", "k = {k}: no bar without progress(true)");
        // Every count from 1 to 4 of 4 batches is drawn, in order, with the items' rate.
        let counts: Vec<&str> = drawn
            .lines()
            .filter_map(|l| l.split_whitespace().find(|w| w.ends_with("/4")))
            .collect();
        let mut distinct = counts.clone();
        distinct.dedup();
        assert_eq!(
            distinct.last(),
            Some(&"4/4"),
            "k = {k}: the bar ends at 4/4 batches:\n{drawn}"
        );
        for n in 1..=4 {
            assert!(
                distinct.contains(&format!("{n}/4").as_str()),
                "k = {k}: batch {n} drawn:\n{drawn}"
            );
        }
        let mut sorted = distinct.clone();
        sorted.sort();
        assert_eq!(sorted, distinct, "k = {k}: counts in order:\n{drawn}");
        assert!(
            drawn.contains("batches") && drawn.contains("items/s"),
            "{drawn}"
        );
    }
}

#[test]
fn a_hot_lock_is_the_verdict_when_it_serialises_the_run() {
    // A 6 ms step under a lock between two 1 ms steps, four batches in flight: the lock is
    // held nearly all the time (at least half of it even on a loaded machine) and sets the pace.
    let p = dataset(48)
        .p()
        .apply("before", nap(1))
        .push(batchline::Action::new("under lock", nap(6)).lock("hot"))
        .apply("after", nap(1));
    let profile = profile_of(p, RunSpec::new(2).prefetch(3), 0);
    let verdict = profile.verdict();
    assert!(
        verdict.starts_with("lock \"hot\" is the bottleneck"),
        "{verdict}\n{profile}"
    );
}
