//! Faults injected on demand: a spec of probabilities, drawn deterministically from a seed.

use std::fmt;
use std::str::FromStr;

use http::StatusCode;

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Answer this 5xx status without reading the request: 502 and 503 as a front-end
    /// proxy's HTML page, the others as Mixpanel's JSON.
    Status(StatusCode),
    /// Answer 429 as the rate limit does: the strict JSON body without `Retry-After`, or
    /// with `Retry-After: 1` when the server sends it, or the HTML page when the server's
    /// 429s are HTML.
    RateLimited,
    /// Close the connection without reading, storing or answering.
    Reset,
    /// Store the events, then close the connection without answering: the client cannot
    /// tell whether its events arrived.
    AckLost,
    /// Process the request normally, then wait before answering.
    Slow,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => write!(f, "{}", status.as_u16()),
            Self::RateLimited => f.write_str("429"),
            Self::Reset => f.write_str("reset"),
            Self::AckLost => f.write_str("ack_lost"),
            Self::Slow => f.write_str("slow"),
        }
    }
}

impl FromStr for Fault {
    type Err = FaultSpecError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "429" => Ok(Self::RateLimited),
            "reset" => Ok(Self::Reset),
            "ack_lost" => Ok(Self::AckLost),
            "slow" => Ok(Self::Slow),
            code => code
                .parse::<u16>()
                .ok()
                .filter(|code| (500..600).contains(code))
                .and_then(|code| StatusCode::from_u16(code).ok())
                .map(Self::Status)
                .ok_or_else(|| FaultSpecError::UnknownFault(code.to_owned())),
        }
    }
}

/// Which faults to inject and how often, e.g.
/// `500=0.1,502=0.05,503=0.05,429=0.1,reset=0.05,ack_lost=0.05,slow=0.02`.
///
/// Each ingestion request draws at most one fault: the probabilities add up, and must not
/// exceed 1. The empty spec injects nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultSpec {
    faults: Vec<(Fault, f64)>,
}

impl FaultSpec {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// The faults and their probabilities, in spec order.
    pub fn faults(&self) -> &[(Fault, f64)] {
        &self.faults
    }

    /// The fault a uniform draw in `[0, 1)` lands on, if any.
    fn pick(&self, draw: f64) -> Option<Fault> {
        let mut bound = 0.0;
        for &(fault, probability) in &self.faults {
            bound += probability;
            if draw < bound {
                return Some(fault);
            }
        }
        None
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (fault, probability)) in self.faults.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{fault}={probability}")?;
        }
        Ok(())
    }
}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut faults: Vec<(Fault, f64)> = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, probability) = entry
                .split_once('=')
                .ok_or_else(|| FaultSpecError::MissingProbability(entry.to_owned()))?;
            let fault: Fault = name.trim().parse()?;
            let probability: f64 = probability
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| FaultSpecError::BadProbability(entry.to_owned()))?;
            if faults.iter().any(|(known, _)| *known == fault) {
                return Err(FaultSpecError::Repeated(fault.to_string()));
            }
            faults.push((fault, probability));
        }
        let total: f64 = faults.iter().map(|(_, p)| p).sum();
        // A little slack for decimal fractions that add up to 1 only on paper.
        if total > 1.0 + 1e-9 {
            return Err(FaultSpecError::TotalOverOne(total));
        }
        Ok(Self { faults })
    }
}

/// A fault spec that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultSpecError {
    /// A name that is neither a 5xx status, `429`, `reset`, `ack_lost` nor `slow`.
    #[error("unknown fault {0:?}: expected a 5xx status, 429, reset, ack_lost or slow")]
    UnknownFault(String),
    /// An entry without `=probability`.
    #[error("fault {0:?} has no probability: write it as name=probability, e.g. 500=0.1")]
    MissingProbability(String),
    /// A probability that is not a number between 0 and 1.
    #[error("fault {0:?}: the probability must be a number between 0 and 1")]
    BadProbability(String),
    /// The same fault named twice.
    #[error("fault {0} is given twice")]
    Repeated(String),
    /// Probabilities that add up to more than 1.
    #[error("the fault probabilities add up to {0}, more than 1")]
    TotalOverOne(f64),
}

/// The spec and a seeded generator: the same seed draws the same faults for the same
/// sequence of requests.
#[derive(Debug)]
pub(crate) struct FaultDice {
    spec: FaultSpec,
    seed: u64,
    rng: fastrand::Rng,
}

impl FaultDice {
    pub(crate) fn new(spec: FaultSpec, seed: u64) -> Self {
        Self {
            spec,
            seed,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The fault for the next ingestion request, if any. Draws even when the spec is
    /// empty, so that the sequence depends only on the seed and the request count.
    pub(crate) fn roll(&mut self) -> Option<Fault> {
        let draw = self.rng.f64();
        self.spec.pick(draw)
    }

    /// Starts the sequence over, as a freshly started server would.
    pub(crate) fn restart(&mut self) {
        self.rng = fastrand::Rng::with_seed(self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "500=0.1,502=0.05,503=0.05,429=0.1,reset=0.05,ack_lost=0.05,slow=0.02";

    #[test]
    fn the_documented_spec_parses_and_prints_back() {
        let spec: FaultSpec = FULL.parse().unwrap();
        assert_eq!(spec.faults().len(), 7);
        assert_eq!(
            spec.faults()[1],
            (Fault::Status(StatusCode::BAD_GATEWAY), 0.05)
        );
        assert_eq!(spec.faults()[3], (Fault::RateLimited, 0.1));
        assert_eq!(spec.to_string(), FULL);
        assert_eq!(" ".parse::<FaultSpec>(), Ok(FaultSpec::none()));
    }

    #[test]
    fn bad_specs_say_why() {
        let cases = [
            ("404=0.1", FaultSpecError::UnknownFault("404".into())),
            ("500", FaultSpecError::MissingProbability("500".into())),
            ("500=2", FaultSpecError::BadProbability("500=2".into())),
            ("slow=x", FaultSpecError::BadProbability("slow=x".into())),
            (
                "reset=0.1,reset=0.2",
                FaultSpecError::Repeated("reset".into()),
            ),
        ];
        for (spec, error) in cases {
            assert_eq!(spec.parse::<FaultSpec>(), Err(error), "{spec}");
        }
        assert!(matches!(
            "500=0.6,503=0.6".parse::<FaultSpec>(),
            Err(FaultSpecError::TotalOverOne(_))
        ));
    }

    #[test]
    fn draws_are_deterministic_per_seed_and_follow_the_probabilities() {
        let spec: FaultSpec = FULL.parse().unwrap();
        let rolls = |seed| {
            let mut dice = FaultDice::new(spec.clone(), seed);
            (0..2000).map(|_| dice.roll()).collect::<Vec<_>>()
        };
        assert_eq!(rolls(7), rolls(7));
        assert_ne!(rolls(7), rolls(8));
        let faulted = rolls(7).iter().filter(|f| f.is_some()).count();
        // 42% expected: 840 of 2000, give or take a few standard deviations (about 22).
        assert!((740..940).contains(&faulted), "{faulted}");

        let mut dice = FaultDice::new(spec, 7);
        let first: Vec<_> = (0..50).map(|_| dice.roll()).collect();
        dice.restart();
        let again: Vec<_> = (0..50).map(|_| dice.roll()).collect();
        assert_eq!(first, again);
    }

    #[test]
    fn a_certain_fault_always_fires() {
        let mut dice = FaultDice::new("ack_lost=1".parse().unwrap(), 1);
        assert!((0..100).all(|_| dice.roll() == Some(Fault::AckLost)));
    }
}
