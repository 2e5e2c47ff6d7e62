//! Unit tests of the profile: aggregation, verdict and table from known events.

use super::*;

fn ev(ms: u64, batch: u64, kind: EventKind) -> Event {
    Event {
        time: Duration::from_millis(ms),
        batch,
        worker: 0,
        kind,
    }
}

fn act(name: &str) -> Arc<str> {
    name.into()
}

#[test]
fn computes_times_waits_and_blame_from_known_events() {
    use EventKind::*;
    let (a, b, l) = (act("a"), act("b"), act("lock"));
    // Batch 0: a 0..10, waits for the lock 10..15, b 15..35; the consumer asked at 0.
    // Batch 1: a 40..60, consumer works on batch 0 from 35 to 40, then waits 40..70.
    let events = vec![
        ev(0, 0, ActionStarted { action: a.clone() }),
        ev(10, 0, ActionFinished { action: a.clone() }),
        ev(10, 0, LockWaiting { lock: l.clone() }),
        ev(15, 0, LockAcquired { lock: l.clone() }),
        ev(15, 0, ActionStarted { action: b.clone() }),
        ev(35, 0, ActionFinished { action: b.clone() }),
        ev(35, 0, BatchYielded),
        ev(40, 0, BatchReleased),
        ev(40, 1, ActionStarted { action: a.clone() }),
        ev(60, 1, ActionFinished { action: a.clone() }),
        ev(70, 1, BatchYielded),
        ev(80, 1, BatchReleased),
    ];
    let p = Profile::from_events(&events);
    assert_eq!(p.elapsed, Duration::from_millis(80));
    assert_eq!(p.batches, 2);
    assert_eq!(p.consumer_wait, Duration::from_millis(35 + 30));
    assert_eq!(p.consumer_work, Duration::from_millis(5 + 10));
    let sa = p.action("a").unwrap();
    assert_eq!((sa.count, sa.total), (2, Duration::from_millis(30)));
    assert_eq!(
        (sa.p50, sa.p95, sa.max),
        (
            Duration::from_millis(10),
            Duration::from_millis(20),
            Duration::from_millis(20)
        )
    );
    assert_eq!(sa.mean, Duration::from_millis(15));
    // a held the consumer up 10 ms (batch 0) + 20 ms (batch 1) of 80.
    assert!((sa.bottleneck_share - 30.0 / 80.0).abs() < 1e-9);
    let sb = p.action("b").unwrap();
    assert!((sb.bottleneck_share - 20.0 / 80.0).abs() < 1e-9);
    let sl = p.lock("lock").unwrap();
    assert_eq!(
        (sl.acquisitions, sl.waits, sl.total_wait),
        (1, 1, Duration::from_millis(5))
    );
    assert!((sl.bottleneck_share - 5.0 / 80.0).abs() < 1e-9);
    assert_eq!(p.bottleneck().unwrap().name, "a");
    // The 5 ms wait for the lock comes just before b.
    assert_eq!(sl.held, Duration::ZERO, "never released in these events");
    assert_eq!(p.action("b").unwrap().lock_wait, Duration::from_millis(5));
    assert_eq!(sa.lock_wait, Duration::ZERO);
    // Per batch: 40 ms measured; bounds: work 7.5 ms, actions 50/2/2 = 12.5 ms on 2 cores.
    assert!((p.prefetch_gain(2) - (40.0 / 12.5 - 1.0)).abs() < 1e-9);
    assert!((p.prefetch_gain(1) - (40.0 / 25.0 - 1.0)).abs() < 1e-9);
    assert!(
        p.verdict().starts_with("action \"a\" is the bottleneck"),
        "{}",
        p.verdict()
    );
    let table = p.to_string();
    assert!(table.contains("2 batches in 80.000 ms"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("a ") && l.contains("37.5%")),
        "{table}"
    );
    let json = serde_json::to_string(&p).unwrap();
    let back: Profile = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
}

#[test]
fn a_hot_lock_is_named_in_the_verdict() {
    use EventKind::*;
    let (work, l) = (act("work"), act("hot"));
    // Each batch waits 20 ms for the lock, then works 2 ms under it; the consumer waits.
    let mut events = Vec::new();
    let mut t = 0;
    for batch in 0..4 {
        events.push(ev(t, batch, LockWaiting { lock: l.clone() }));
        events.push(ev(t + 20, batch, LockAcquired { lock: l.clone() }));
        events.push(ev(
            t + 20,
            batch,
            ActionStarted {
                action: work.clone(),
            },
        ));
        events.push(ev(
            t + 22,
            batch,
            ActionFinished {
                action: work.clone(),
            },
        ));
        events.push(ev(t + 22, batch, LockReleased { lock: l.clone() }));
        events.push(ev(t + 22, batch, BatchYielded));
        events.push(ev(t + 23, batch, BatchReleased));
        t += 23;
    }
    let p = Profile::from_events(&events);
    let hot = p.lock("hot").unwrap();
    assert_eq!((hot.waits, hot.held), (4, Duration::from_millis(8)));
    assert_eq!(
        p.action("work").unwrap().lock_wait,
        Duration::from_millis(80)
    );
    let verdict = p.verdict();
    assert!(
        verdict.starts_with("lock \"hot\" is the bottleneck"),
        "{verdict}"
    );
    assert!(p.to_string().contains(&verdict));
}

#[test]
fn empty_run() {
    let p = Profile::from_events(&[]);
    assert_eq!(p, Profile::default());
    assert!(p.bottleneck().is_none());
    assert!(p.to_string().starts_with("0 batches"));
}

/// Defect 9's case: a lock held more than half of the run that never made the consumer wait
/// (its batches never waited for it), while the consumer waited for batches in the step after
/// it. The verdict names the table's top row and quotes its number; the lock's pace is a
/// clause of its own, with the table's `held %`.
#[test]
fn the_verdict_names_the_tables_top_row_when_a_lock_is_held_most_of_the_time() {
    use EventKind::*;
    let (mid, last, l) = (act("mid"), act("last"), act("L"));
    let mut events = Vec::new();
    for i in 0..5u64 {
        let t = 10 * i;
        events.push(ev(t, i, LockAcquired { lock: l.clone() }));
        events.push(ev(
            t,
            i,
            ActionStarted {
                action: mid.clone(),
            },
        ));
        events.push(ev(
            t + 6,
            i,
            ActionFinished {
                action: mid.clone(),
            },
        ));
        events.push(ev(t + 6, i, LockReleased { lock: l.clone() }));
        events.push(ev(
            t + 6,
            i,
            ActionStarted {
                action: last.clone(),
            },
        ));
        events.push(ev(
            t + 16,
            i,
            ActionFinished {
                action: last.clone(),
            },
        ));
        events.push(ev(t + 16, i, BatchYielded));
        events.push(ev(t + 17, i, BatchReleased));
    }
    let p = Profile::from_events(&events);
    let lock = p.lock("L").unwrap();
    assert_eq!(lock.bottleneck_share, 0.0);
    assert!((lock.held_share - 30.0 / 57.0).abs() < 1e-9);
    let last_share = p.action("last").unwrap().bottleneck_share;
    assert!((last_share - 46.0 / 57.0).abs() < 1e-9);
    let verdict = p.verdict();
    assert!(
        verdict.starts_with(
            "action \"last\" is the bottleneck: the consumer waited 80.7% of the time for batches \
             in it; lock \"L\" is held 52.6% of the time, so the steps under it run one batch at a \
             time and set the pace"
        ),
        "{verdict}"
    );
    let table = p.to_string();
    assert!(
        table
            .lines()
            .any(|r| r.starts_with("last ") && r.ends_with("80.7%")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|r| r.starts_with("L ") && r.ends_with("52.6%        0.0%")),
        "{table}"
    );
}
