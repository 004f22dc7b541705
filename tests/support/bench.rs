//! What the lab benchmarks share: the release build they run, and how their rounds are
//! summarized.

use std::time::Duration;

use crate::probe::percentile;

/// Min, median and max of a benchmark's rounds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spread {
    pub min: Duration,
    pub median: Duration,
    pub max: Duration,
}

impl Spread {
    pub fn of(rounds: &[Duration]) -> Spread {
        let mut sorted = rounds.to_vec();
        sorted.sort();
        Spread {
            min: sorted.first().copied().unwrap_or_default(),
            median: percentile(&sorted, 0.5),
            max: sorted.last().copied().unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for Spread {
    /// `1.20 / 1.31 / 1.52 s`, or milliseconds below a second.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.max < Duration::from_secs(1) {
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            write!(
                f,
                "{:.0} / {:.0} / {:.0} ms",
                ms(self.min),
                ms(self.median),
                ms(self.max)
            )
        } else {
            write!(
                f,
                "{:.2} / {:.2} / {:.2} s",
                self.min.as_secs_f64(),
                self.median.as_secs_f64(),
                self.max.as_secs_f64()
            )
        }
    }
}

/// Benchmarks measure what users run: the release build. Call before the first
/// [`crate::shoal_bin`].
pub fn use_release_build() {
    crate::RELEASE
        .set(true)
        .expect("chosen once, before the first build");
}

/// `utime + stime` of a process, from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process runs");
    // The command name may hold spaces: count fields after its closing parenthesis.
    let after = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields[11] + fields[12];
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process runs");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} missing from /proc/{pid}/status"))
}
