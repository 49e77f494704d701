//! What a soak run must leave behind, read from the server handle (the same store the
//! inspection API serves), and the figures printed for it.

use std::time::Duration;

use alias_core::Tally;
use alias_server::Server;
use alias_tests::ClientKind;

use super::ids;

/// What a client said about its own run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reported {
    /// How its aliases ended.
    pub(crate) tally: Tally,
    /// Requests it sent, when it says.
    pub(crate) requests: Option<u64>,
    /// Retries it scheduled, when it says.
    pub(crate) retries: Option<u64>,
    /// How long it took, from the first alias in to the last outcome out.
    pub(crate) wall: Duration,
}

/// One client's run, as the client and the server saw it.
#[derive(Debug)]
pub(crate) struct Figures {
    client: ClientKind,
    aliases: usize,
    reported: Reported,
    /// Requests the server received, faulted ones included.
    requests: u64,
    faults: u64,
    duplicates_dropped: u64,
    stored: u64,
    /// Aliases not mapped to their distinct_id (alone) on the server.
    lost: usize,
    /// Events stored beyond one per alias that arrived.
    duplicated: u64,
}

/// Reads the server after `client` delivered `aliases` aliases.
pub(crate) fn check(
    client: ClientKind,
    server: &Server,
    aliases: usize,
    reported: Reported,
) -> Figures {
    let lost = (0..aliases)
        .filter(|&i| {
            let (distinct_id, alias) = ids(i);
            // Mapped, and to nothing else: the cluster is the two ids.
            server.identity(&alias).is_none_or(|identity| {
                identity.canonical != distinct_id || identity.cluster.len() != 2
            })
        })
        .count();
    let stats = server.stats();
    let arrived = (aliases - lost) as u64;
    Figures {
        client,
        aliases,
        reported,
        requests: stats.requests,
        faults: stats.faults_injected,
        duplicates_dropped: stats.duplicates_dropped,
        stored: stats.events_stored,
        lost,
        duplicated: stats.events_stored.saturating_sub(arrived),
    }
}

impl Figures {
    /// The header of [`Figures::row`].
    pub(crate) const HEADER: &str = "client            aliases  requests   faults  retries  dups-dropped  lost  duplicated    wall";

    /// The figures as one table row.
    pub(crate) fn row(&self) -> String {
        let retries = self
            .reported
            .retries
            .map_or_else(|| "?".to_owned(), |r| r.to_string());
        format!(
            "{:<16} {:>8} {:>9} {:>8} {:>8} {:>13} {:>5} {:>11} {:>6.1}s",
            self.client.name(),
            self.aliases,
            self.requests,
            self.faults,
            retries,
            self.duplicates_dropped,
            self.lost,
            self.duplicated,
            self.reported.wall.as_secs_f64()
        )
    }

    /// Everything that breaks the promise, or shows the run did not test it.
    pub(crate) fn problems(&self) -> Vec<String> {
        let client = self.client;
        let tally = self.reported.tally;
        let mut problems = Vec::new();
        if self.lost > 0 {
            problems.push(format!("{client}: {} aliases lost", self.lost));
        }
        if self.duplicated > 0 {
            problems.push(format!("{client}: {} events stored twice", self.duplicated));
        }
        if self.stored != self.aliases as u64 {
            problems.push(format!(
                "{client}: the server stored {} events for {} aliases",
                self.stored, self.aliases
            ));
        }
        if tally.accepted != self.aliases as u64 || tally.total() != self.aliases as u64 {
            problems.push(format!(
                "{client}: the client reports {} accepted, {} rejected, {} invalid, {} undelivered of {} aliases",
                tally.accepted, tally.rejected, tally.invalid, tally.undelivered, self.aliases
            ));
        }
        if tally.accepted != self.stored {
            problems.push(format!(
                "{client}: the client reports {} accepted, the server stored {}",
                tally.accepted, self.stored
            ));
        }
        if let Some(requests) = self.reported.requests.filter(|&r| r != self.requests) {
            problems.push(format!(
                "{client}: the client sent {requests} requests, the server received {}",
                self.requests
            ));
        }
        if self.faults == 0 || self.duplicates_dropped == 0 {
            problems.push(format!(
                "{client}: {} faults injected and {} duplicates dropped: the run tested nothing",
                self.faults, self.duplicates_dropped
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use alias_tests::adapter::Adapter;

    use super::*;

    fn figures() -> Figures {
        Figures {
            client: ClientKind::Library(Adapter::Surf),
            aliases: 10,
            reported: Reported {
                tally: Tally {
                    accepted: 10,
                    ..Tally::default()
                },
                requests: Some(7),
                retries: Some(3),
                wall: Duration::from_secs(1),
            },
            requests: 7,
            faults: 3,
            duplicates_dropped: 1,
            stored: 10,
            lost: 0,
            duplicated: 0,
        }
    }

    #[test]
    fn a_clean_run_has_no_problem() {
        assert_eq!(figures().problems(), Vec::<String>::new());
        assert!(figures().row().starts_with("surf "), "{}", figures().row());
    }

    #[test]
    fn each_broken_promise_is_named() {
        let mut lossy = figures();
        lossy.lost = 1;
        lossy.stored = 9;
        lossy.reported.tally.accepted = 9;
        lossy.reported.tally.undelivered = 1;
        let problems = lossy.problems();
        assert!(
            problems.iter().any(|p| p.contains("1 aliases lost")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("1 undelivered")),
            "{problems:?}"
        );

        let mut doubled = figures();
        doubled.duplicated = 2;
        doubled.stored = 12;
        let problems = doubled.problems();
        assert!(
            problems.iter().any(|p| p.contains("2 events stored twice")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("server stored 12")),
            "{problems:?}"
        );

        let mut idle = figures();
        idle.duplicates_dropped = 0;
        idle.reported.requests = Some(8);
        let problems = idle.problems();
        assert!(
            problems.iter().any(|p| p.contains("tested nothing")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("sent 8 requests")),
            "{problems:?}"
        );
    }
}
