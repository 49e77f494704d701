//! `mixpanel-alias create`: one alias, one line saying what happened.

use std::process::ExitCode;

use alias_core::{
    AliasOutcome, CreateAlias, DeliveryError, ValidationError, delivery::Undelivered, wire::Field,
};

use crate::console;
use crate::exit::{self, UsageError};
use crate::options::CommonArgs;
use crate::outcome;
use crate::sender::Sender;

/// Link one new id to an existing one.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The existing id (properties.distinct_id).
    #[arg(long, value_name = "ID")]
    distinct_id: String,

    /// The new id that Mixpanel will read as the existing one (properties.alias).
    #[arg(long, value_name = "NEW")]
    alias: String,

    #[command(flatten)]
    common: CommonArgs,
}

/// Runs the command: exit 0 when the alias was accepted.
pub(crate) fn run(args: &Args) -> Result<ExitCode, UsageError> {
    let link = CreateAlias::from_ids(&args.distinct_id, &args.alias).map_err(id_error)?;
    let settings = args.common.settings(None)?;
    let dry_run = settings.dry_run;
    let sender = Sender::new(settings)?;
    tracing::debug!(config = ?sender.config(), "sending one alias");
    let mut result = None;
    sender.send_stream(
        futures_util::stream::iter([link]),
        std::future::pending(),
        |entry| result = Some(entry.outcome),
        || {},
    );
    // The delivery settles every alias it is given; an alias it did not report on was not
    // delivered.
    let outcome = result.unwrap_or(AliasOutcome::Undelivered(Undelivered {
        attempts: 0,
        last_error: DeliveryError::Abandoned,
    }));
    let pair = format!(
        "alias {:?} -> distinct_id {:?}",
        args.alias, args.distinct_id
    );
    if dry_run {
        // The printer accepts whatever it could print.
        match outcome::detail(&outcome) {
            None => console::result(&format!("dry run: {pair} printed above, nothing sent")),
            Some(detail) => console::message(&format!(
                "error: dry run: cannot print the request of {pair}: {detail}; nothing was sent"
            )),
        }
        return Ok(exit::of_run(outcome.is_accepted()));
    }
    let kind = outcome::kind(&outcome);
    console::result(&match outcome::detail(&outcome) {
        // Mixpanel answers before it merges: say what an acceptance means, and where a
        // refused merge shows.
        None => format!(
            "accepted for ingestion: {pair} (Mixpanel merges later; a merge it refuses shows \
             as $failure_reason on the stored event)"
        ),
        Some(detail) => format!("{kind}: {pair}: {detail}; {}", outcome::advice(&outcome)),
    });
    Ok(exit::of_run(outcome.is_accepted()))
}

/// An id argument that Mixpanel would refuse is a usage error naming its flag.
fn id_error(error: ValidationError) -> UsageError {
    let flag = match error.field {
        Field::DistinctId => "--distinct-id",
        _ => "--alias",
    };
    UsageError::new(format!("{flag}: {error}; pass the real id of the user"))
}
