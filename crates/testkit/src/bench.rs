//! What `make bench` prints: a call's throughput and latency percentiles, and its
//! time per operation as a multiple of the floor measured in the same run.

use std::time::Duration;

/// The measures of one figure.
#[derive(Debug, Clone)]
pub struct Figures {
    pub name: &'static str,
    pub ops: usize,
    pub elapsed: Duration,
    /// One per operation.
    pub latencies: Vec<Duration>,
}

impl Figures {
    #[must_use]
    pub fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`-th percentile (0.0 to 1.0) of the latencies.
    #[must_use]
    pub fn percentile(&self, p: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        let i = ((l.len() as f64 - 1.0) * p).round() as usize;
        l.get(i).copied().unwrap_or_default()
    }
}

/// One line: `f`'s figures and its ratio to `floor`.
#[allow(clippy::print_stdout)]
pub fn print(f: &Figures, floor: &Figures) {
    println!(
        "{:<40} {:>6} ops {:>9.0} ops/s  p50 {:>7.2} ms  p99 {:>7.2} ms  {:>5.2}x the floor's time per op",
        f.name,
        f.ops,
        f.per_second(),
        f.percentile(0.5).as_secs_f64() * 1e3,
        f.percentile(0.99).as_secs_f64() * 1e3,
        floor.per_second() / f.per_second(),
    );
}
