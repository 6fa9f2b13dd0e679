//! What the soak counts: every answer of every kind of request, and how long each took.

use std::collections::BTreeMap;
use std::time::Duration;

/// A kind of request the workers send, as the report lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `GET /w/<n>/k<i>`.
    Get,
    /// `GET /w/<n>`, the worker's whole subtree.
    GetSubtree,
    /// `PUT /w/<n>/k<i>`.
    Put,
    /// `PUT /w/<n>/k<i>` with `If-Match` and the tag just read.
    PutIfMatch,
    /// `PUT /w/<n>/k<i>` with `If-None-Match: *`.
    PutIfNoneMatch,
    /// `PATCH /w/<n>/k<i>` with a merge patch.
    PatchMerge,
    /// `PATCH /w/<n>/k<i>` with a JSON Patch.
    PatchJson,
    /// `DELETE /w/<n>/k<i>`.
    Delete,
    /// `POST /w/<n>/log`.
    Post,
    /// `POST /shared/log`.
    PostShared,
    /// `GET /shared/counter`, before an increment.
    CounterGet,
    /// `PUT /shared/counter` with `If-Match`: an increment.
    CounterPut,
}

impl Kind {
    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Get => "`GET /w/<n>/k<i>`",
            Kind::GetSubtree => "`GET /w/<n>` (whole subtree)",
            Kind::Put => "`PUT /w/<n>/k<i>`",
            Kind::PutIfMatch => "`PUT` with `If-Match`",
            Kind::PutIfNoneMatch => "`PUT` with `If-None-Match: *`",
            Kind::PatchMerge => "`PATCH` merge patch",
            Kind::PatchJson => "`PATCH` JSON Patch",
            Kind::Delete => "`DELETE /w/<n>/k<i>`",
            Kind::Post => "`POST /w/<n>/log`",
            Kind::PostShared => "`POST /shared/log`",
            Kind::CounterGet => "`GET /shared/counter`",
            Kind::CounterPut => "`PUT /shared/counter` with `If-Match`",
        }
    }

    /// Whether it writes.
    pub fn is_write(self) -> bool {
        !matches!(self, Kind::Get | Kind::GetSubtree | Kind::CounterGet)
    }
}

/// Answers and latencies, by kind of request.
#[derive(Debug, Default)]
pub struct Stats {
    /// Each kind's numbers.
    pub kinds: BTreeMap<Kind, KindStats>,
}

/// One kind of request's numbers.
#[derive(Debug, Default)]
pub struct KindStats {
    /// How many answers of each kind: a status (`"200"`), a 503 with `Retry-After` and its
    /// problem (`"503 contention, retried"`), or an outcome
    /// without an answer.
    pub answers: BTreeMap<String, u64>,
    /// How long each request took, answered or not.
    pub latencies: Vec<Duration>,
}

impl Stats {
    /// Counts one request of `kind`, which took `latency` and ended with `answer`.
    pub fn record(&mut self, kind: Kind, answer: &str, latency: Duration) {
        let stats = self.kinds.entry(kind).or_default();
        *stats.answers.entry(answer.to_owned()).or_default() += 1;
        stats.latencies.push(latency);
    }

    /// Adds `other`'s numbers to these.
    pub fn merge(&mut self, other: Stats) {
        for (kind, other) in other.kinds {
            let stats = self.kinds.entry(kind).or_default();
            for (answer, count) in other.answers {
                *stats.answers.entry(answer).or_default() += count;
            }
            stats.latencies.extend(other.latencies);
        }
    }

    /// How many answers were `answer`, over every kind.
    pub fn count(&self, answer: &str) -> u64 {
        self.count_where(|other| other == answer)
    }

    /// How many answers `answer` holds for, over every kind.
    pub fn count_where(&self, answer: impl Fn(&str) -> bool) -> u64 {
        self.kinds
            .values()
            .flat_map(|stats| stats.answers.iter())
            .filter(|(other, _)| answer(other))
            .map(|(_, count)| count)
            .sum()
    }
}

/// The `share` quantile (0.5 for the median) of `latencies`, by nearest rank.
pub fn quantile(latencies: &mut [Duration], share: f64) -> Option<Duration> {
    if latencies.is_empty() {
        return None;
    }
    latencies.sort_unstable();
    let rank = ((latencies.len() as f64 * share).ceil() as usize).clamp(1, latencies.len());
    Some(latencies[rank - 1])
}
