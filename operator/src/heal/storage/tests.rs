//! A brick's node crashing and coming back, observation by observation.

use super::*;

fn health(online: usize, pending: u64, split: u64, disconnected: &[&str]) -> StorageHealth {
    StorageHealth {
        name: "storage".into(),
        bricks_online: online,
        bricks_total: 3,
        heal_pending: pending,
        split_brain: split,
        disconnected_peers: disconnected.iter().map(|s| s.to_string()).collect(),
        ..StorageHealth::default()
    }
}

fn volume() -> String {
    "storage".into()
}

#[test]
fn a_crash_and_return_is_degraded_heal_started_progress_healed() {
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let mut watch = VolumeWatch::default();
    assert_eq!(
        watch.observe(&[health(3, 0, 0, &[])], at(0)),
        VolumeReport::default()
    );

    let down = watch.observe(&[health(2, 0, 0, &["node3"])], at(10));
    assert_eq!(
        down,
        VolumeReport {
            changes: vec![StorageChange::Degraded {
                volume: volume(),
                why: "2/3 bricks online, peers disconnected: node3".into()
            }],
            changed: vec![volume()],
        }
    );
    // Writes meanwhile: more to heal, still degraded, nothing new to say.
    let writes = watch.observe(&[health(2, 40, 0, &["node3"])], at(20));
    assert_eq!((writes.changes, writes.changed), (vec![], vec![volume()]));

    let back = watch.observe(&[health(3, 40, 0, &[])], at(30));
    assert_eq!(
        back.changes,
        [StorageChange::HealStarted {
            volume: volume(),
            pending: 40
        }]
    );
    // Falling, but told at most once a minute.
    assert_eq!(watch.observe(&[health(3, 30, 0, &[])], at(40)).changes, []);
    assert_eq!(
        watch.observe(&[health(3, 10, 0, &[])], at(95)).changes,
        [StorageChange::HealProgress {
            volume: volume(),
            pending: 10
        }]
    );
    assert_eq!(
        watch.observe(&[health(3, 0, 0, &[])], at(100)).changes,
        [StorageChange::Healed { volume: volume() }]
    );
    assert_eq!(
        watch.observe(&[health(3, 0, 0, &[])], at(110)),
        VolumeReport::default()
    );
}

#[test]
fn a_heal_that_stops_falling_is_stalled_once() {
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let mut watch = VolumeWatch::default();
    watch.observe(&[health(3, 0, 0, &[])], at(0));
    watch.observe(&[health(3, 7, 0, &[])], at(10));
    assert_eq!(watch.observe(&[health(3, 7, 0, &[])], at(300)).changes, []);
    assert_eq!(
        watch.observe(&[health(3, 7, 0, &[])], at(310)).changes,
        [StorageChange::HealStalled {
            volume: volume(),
            pending: 7,
            stalled_for: Duration::from_secs(300)
        }]
    );
    assert_eq!(watch.observe(&[health(3, 7, 0, &[])], at(900)).changes, []);
}

#[test]
fn the_first_look_says_only_what_is_wrong() {
    let mut watch = VolumeWatch::default();
    assert_eq!(
        watch
            .observe(&[health(3, 0, 4, &[])], Instant::now())
            .changes,
        [StorageChange::Degraded {
            volume: volume(),
            why: "3/3 bricks online, 4 entries in split-brain: shoal never picks a copy; \
                  resolve each with `gluster volume heal storage split-brain latest-mtime \
                  FILE` (or `bigger-file FILE`, or `source-brick HOST:BRICK FILE`), or set \
                  cluster.favorite-child-policy"
                .into()
        }]
    );
}

#[test]
fn split_brain_files_are_named_with_who_resolves_them() {
    let mut split = health(3, 0, 7, &[]);
    split.split_brain_files = (1..=7).map(|i| format!("/wp/f{i}")).collect();
    assert_eq!(
        degraded_why(&split),
        "3/3 bricks online, 7 files in split-brain (/wp/f1, /wp/f2, /wp/f3, /wp/f4, /wp/f5 \
         and 2 more): shoal never picks a copy; resolve each with `gluster volume heal storage \
         split-brain latest-mtime FILE` (or `bigger-file FILE`, or `source-brick HOST:BRICK \
         FILE`), or set cluster.favorite-child-policy"
    );
    split.favorite_child_policy = Some("mtime".into());
    split.split_brain_files.truncate(1);
    assert_eq!(
        degraded_why(&split),
        "3/3 bricks online, 1 file in split-brain (/wp/f1): gluster's self-heal resolves \
         them by cluster.favorite-child-policy mtime"
    );
}
