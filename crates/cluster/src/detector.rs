//! The phi-accrual failure detector: suspicion grows with the time since an endpoint's last
//! heartbeat arrival, relative to the mean of recent inter-arrival times.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Inter-arrival samples kept per endpoint (Cassandra's window size).
const SAMPLE_WINDOW: usize = 1000;
/// Converts the exponential distribution's tail into phi: 1 / ln(10), as Cassandra uses.
const PHI_FACTOR: f64 = 1.0 / std::f64::consts::LN_10;

/// Heartbeat arrival history of one endpoint.
#[derive(Debug, Clone)]
pub struct ArrivalWindow {
    last: Instant,
    intervals: VecDeque<f64>,
    sum: f64,
    /// Longer gaps than this (a pause, a restart) are not learned as normal intervals.
    max_interval: f64,
}

impl ArrivalWindow {
    /// A window whose first arrival is `now`, seeded with `initial` as the expected interval
    /// (twice the gossip interval, so a new endpoint is not convicted before it settles).
    pub fn new(now: Instant, initial: Duration) -> Self {
        let initial = initial.as_secs_f64();
        Self {
            last: now,
            intervals: VecDeque::from([initial]),
            sum: initial,
            max_interval: initial,
        }
    }

    /// Records a heartbeat arrival.
    pub fn report(&mut self, now: Instant) {
        let interval = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        if interval > self.max_interval {
            return;
        }
        if self.intervals.len() == SAMPLE_WINDOW
            && let Some(old) = self.intervals.pop_front()
        {
            self.sum -= old;
        }
        self.intervals.push_back(interval);
        self.sum += interval;
    }

    /// The suspicion level at `now`.
    pub fn phi(&self, now: Instant) -> f64 {
        let mean = (self.sum / self.intervals.len().max(1) as f64).max(f64::EPSILON);
        now.saturating_duration_since(self.last).as_secs_f64() / mean * PHI_FACTOR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phi_grows_with_silence_and_settles_with_heartbeats() {
        let start = Instant::now();
        let mut w = ArrivalWindow::new(start, Duration::from_millis(200));
        for i in 1..=50 {
            w.report(start + Duration::from_millis(100 * i));
        }
        let last = start + Duration::from_millis(5000);
        assert!(w.phi(last) < 0.01);
        // About 100 ms mean: phi 8 is reached after roughly 1.8 s of silence.
        assert!(w.phi(last + Duration::from_millis(1500)) < 8.0);
        assert!(w.phi(last + Duration::from_millis(2500)) > 8.0);
        // A long pause is not learned as a normal interval.
        w.report(last + Duration::from_secs(60));
        assert!(w.phi(last + Duration::from_secs(62)) > 8.0);
    }
}
